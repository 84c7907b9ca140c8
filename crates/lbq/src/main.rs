use lbqueue::{presets, Variant};
use lbqueue_models::{check, Bounds};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 {
        let sc = presets::get(&args[1])
            .unwrap()
            .with_variant(args[2].parse::<Variant>().unwrap());
        let r = check(&sc, Bounds::default());
        let p = r.property(&args[3]).unwrap();
        println!("{:?} {:?}", p.status, p.note);
        if let Some(t) = &p.trace {
            print!("{t}");
        }
        return;
    }
    for sc in presets::all() {
        for v in Variant::ALL {
            let r = check(&sc.with_variant(v), Bounds::default());
            let viol: Vec<_> = r
                .properties
                .iter()
                .map(|p| format!("{}={:?}", p.name, p.status))
                .collect();
            println!(
                "{} {} states={} unique={} depth={} {:.2}s\n   {}",
                sc.name,
                v,
                r.states,
                r.unique_states,
                r.max_depth,
                r.seconds,
                viol.join(" ")
            );
        }
    }
}
