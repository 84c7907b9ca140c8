//! Hard edges for bad input: `Scenario::from_toml` and `TraceFile::parse` fed arbitrary
//! bytes, TOML-ish text around the real schema (wrong types, huge and negative numbers,
//! deep nesting, unicode, mutated real scenarios) and mutated real trace files.
//!
//! - `Scenario::from_toml` never panics and every error message names a field or a
//!   line; every scenario it accepts writes back (`to_toml`) to a file that reads the
//!   same.
//! - `TraceFile::parse` never panics.
//!
//! Seeds are pinned; `LBQ_SEED=0x… cargo test --release --test parser_fuzz` reruns with
//! another (`LBQ_CASES=N` for more cases).

mod common;
use common::uniform_u64;
use std::fmt;

use lbqueue::random::{random_scenario, Limits, SplitMix64};
use lbqueue::Scenario;
use lbqueue_models::replay::TraceFile;
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use serde_json::{json, Map, Value};

/// Cases per property unless `LBQ_CASES` says otherwise.
const CASES: u64 = 5_000;

fn seed(pinned: u64) -> u64 {
    let Ok(s) = std::env::var("LBQ_SEED") else {
        return pinned;
    };
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|_| panic!("LBQ_SEED: expected a decimal or 0x-hex u64, found {s:?}"))
}

fn cases() -> u64 {
    std::env::var("LBQ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CASES)
}

/// Runs `prop` on `cases()` inputs from `pinned` (or `LBQ_SEED`), printing the seed;
/// panics with the shrunk input on failure.
fn check<A: Arbitrary + fmt::Debug>(name: &str, pinned: u64, prop: fn(A) -> TestResult) {
    let seed = seed(pinned);
    let n = cases();
    println!(
        "{name}: {n} cases, seed {seed:#x} (rerun: LBQ_SEED={seed:#x} cargo test --release \
         --test parser_fuzz {name})"
    );
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(200, seed))
        .tests(n)
        .max_tests(n)
        .min_tests_passed(n)
        .quickcheck(prop);
}

/// Whether an error message says where: `line N`, or a field in backquotes.
fn names_field_or_line(msg: &str) -> bool {
    let line = msg.match_indices("line ").any(|(i, m)| {
        msg[i + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    });
    line || msg.contains("field `")
}

/// `from_toml` on `text`: never panics (quickcheck catches a panic as a failure), and an
/// error names a field or a line.
fn judge_toml(text: &str) -> TestResult {
    match Scenario::from_toml(text, "fuzz") {
        Err(e) => {
            let msg = e.to_string();
            if names_field_or_line(&msg) {
                TestResult::passed()
            } else {
                TestResult::error(format!("the error names no field and no line: {msg:?}"))
            }
        }
        Ok(_) => TestResult::passed(),
    }
}

/// A scenario `from_toml` accepts writes back (`to_toml`) to a file that reads the same.
fn judge_round_trip(text: &str) -> TestResult {
    let Ok(s) = Scenario::from_toml(text, "fuzz") else {
        return TestResult::discard();
    };
    let written = s.to_toml();
    match Scenario::from_toml(&written, "fuzz") {
        Ok(back) if back == s => TestResult::passed(),
        Ok(back) => TestResult::error(format!(
            "accepted, but to_toml reads back differently:\n{written}\n{back:?}"
        )),
        Err(e) => TestResult::error(format!(
            "accepted, but to_toml writes a file it refuses ({e}):\n{written}"
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Scenario::from_toml

/// Arbitrary bytes, read as UTF-8 with replacement characters.
fn from_toml_on_bytes(bytes: Vec<u8>) -> TestResult {
    judge_toml(&String::from_utf8_lossy(&bytes))
}

#[test]
fn from_toml_never_panics_on_arbitrary_bytes() {
    check("bytes", 0xb17e_5000_0000_0001, from_toml_on_bytes);
}

/// Arbitrary strings (quickcheck's: any unicode scalar values).
fn from_toml_on_strings(text: String) -> TestResult {
    judge_toml(&text)
}

#[test]
fn from_toml_never_panics_on_arbitrary_strings() {
    check("strings", 0x5791_0000_0000_0002, from_toml_on_strings);
}

/// TOML-ish text: lines of keys and values around the real schema, or a real random
/// scenario with some lines mutated. Shrinks by dropping lines.
#[derive(Clone)]
struct TomlIsh {
    lines: Vec<String>,
    crlf: bool,
}

impl TomlIsh {
    fn text(&self) -> String {
        self.lines.join(if self.crlf { "\r\n" } else { "\n" })
    }
}

impl fmt::Debug for TomlIsh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TomlIsh {:?}", self.text())
    }
}

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "variant",
    "algo",
    "threads",
    "streams",
    "cli",
    "queue_timeout",
    "servers",
];
const SERVER_KEYS: &[&str] = &["name", "maxconn", "weight"];
const JUNK_KEYS: &[&str] = &[
    "x",
    "seeded_bug",
    "Threads",
    "\"threads\"",
    "'algo'",
    "servers.name",
    "a.b.c",
    "\"\"",
    "ключ",
    "\"🦀\"",
    "threads.x",
    "1",
    "-",
    "name\u{0}",
];

fn toml_string(rng: &mut SplitMix64) -> String {
    const WORDS: &[&str] = &[
        "roundrobin",
        "static-rr",
        "first",
        "hash",
        "leastconn",
        "fixed",
        "toctou",
        "livelock",
        "purge",
        "upstream",
        "FIXED",
        "s1",
        "s2",
        "px/s1",
        "disable server px/s1",
        "enable server px/s2",
        "shutdown sessions server px/s1",
        "shutdown sessions server px/nope",
        "disable  server   px/s1 ",
        "enable server",
        "disable server s1/s1/s1",
        "",
        " ",
        "é",
        "日本語",
        "🦀",
        "\u{200b}",
        "\u{feff}",
    ];
    let mut s = String::new();
    for _ in 0..rng.between(1, 3) {
        let word: &&str = rng.pick(WORDS);
        s.push_str(word);
    }
    match rng.below(8) {
        0 => format!("'{s}'"),
        1 => format!("\"\"\"{s}\n{s}\"\"\""),
        2 => format!("\"{s}\\u00e9\\t\\\\\""),
        3 => format!("\"{s}\\x\""),
        4 => format!("\"{s}"),
        5 => format!("\"{}\"", "a".repeat(rng.between(0, 5000) as usize)),
        _ => format!("{s:?}"),
    }
}

fn toml_number(rng: &mut SplitMix64) -> String {
    const NUMS: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "8",
        "9",
        "12",
        "13",
        "16",
        "17",
        "255",
        "256",
        "-1",
        "-0",
        "+1",
        "-128",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "99999999999999999999999999",
        "1_000",
        "0x10",
        "0o7",
        "0b1",
        "1.0",
        "1.5",
        "-1.5",
        "1e3",
        "1e309",
        "inf",
        "-inf",
        "nan",
        "01",
        "1__0",
        "1979-05-27T07:32:00Z",
        "07:32:00",
        "true",
        "false",
        "True",
    ];
    rng.pick(NUMS).to_string()
}

fn toml_value(rng: &mut SplitMix64, depth: u32) -> String {
    let kinds = if depth == 0 { 2 } else { 5 };
    match rng.below(kinds) {
        0 => toml_number(rng),
        1 => toml_string(rng),
        2 => {
            let items: Vec<String> = (0..rng.below(5))
                .map(|_| toml_value(rng, depth - 1))
                .collect();
            format!("[{}]", items.join(", "))
        }
        3 => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| {
                    let key = if rng.coin() {
                        rng.pick(SERVER_KEYS)
                    } else {
                        rng.pick(TOP_KEYS)
                    };
                    format!("{key} = {}", toml_value(rng, depth - 1))
                })
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        _ => {
            // Deep nesting, past any recursion limit now and then.
            let d = *rng.pick(&[2usize, 10, 100, 300, 5_000]);
            if rng.coin() {
                format!("{}1{}", "[".repeat(d), "]".repeat(d))
            } else {
                format!("{}1{}", "{ a = ".repeat(d), " }".repeat(d))
            }
        }
    }
}

/// A value of the same TOML type as `old`, likely out of the field's range: what gets
/// past the parser to the field checks.
fn typed_value(rng: &mut SplitMix64, old: &str) -> String {
    const INTS: &[i64] = &[
        -1,
        0,
        1,
        2,
        3,
        8,
        9,
        12,
        13,
        16,
        17,
        255,
        256,
        i64::MIN,
        i64::MAX,
    ];
    const CLI: &[&str] = &[
        "disable server px/s1",
        "disable server px/s3",
        "enable server px/s2",
        "shutdown sessions server px/s1",
        "shutdown session server px/s1",
        "enable server",
        "disable server px/",
        "",
    ];
    if old.starts_with('"') {
        let words = [
            "roundrobin",
            "leastconn",
            "fixed",
            "nope",
            "",
            "s1",
            "s2",
            "🦀",
        ];
        format!("{:?}", rng.pick(&words))
    } else if old.starts_with('[') && old.contains('"') {
        let items: Vec<String> = (0..rng.below(14))
            .map(|_| format!("{:?}", rng.pick(CLI)))
            .collect();
        format!("[{}]", items.join(", "))
    } else if old.starts_with('[') {
        let items: Vec<String> = (0..rng.below(14))
            .map(|_| rng.pick(INTS).to_string())
            .collect();
        format!("[{}]", items.join(", "))
    } else if old == "true" || old == "false" {
        rng.pick(&["true", "false"]).to_string()
    } else {
        rng.pick(INTS).to_string()
    }
}

fn toml_line(rng: &mut SplitMix64) -> String {
    match rng.below(12) {
        0..=4 => format!("{} = {}", rng.pick(TOP_KEYS), toml_value(rng, 3)),
        5 | 6 => format!("{} = {}", rng.pick(SERVER_KEYS), toml_value(rng, 2)),
        7 => format!("{} = {}", rng.pick(JUNK_KEYS), toml_value(rng, 2)),
        8 => rng
            .pick(&[
                "[[servers]]",
                "[servers]",
                "[[servers.x]]",
                "[servers.name]",
                "[[ servers ]]",
                "[[servers]",
                "[[]]",
                "[a]",
                "[[a.b]]",
                "[name]",
            ])
            .to_string(),
        9 => rng
            .pick(&[
                "",
                "# a comment",
                "= 1",
                "threads =",
                "threads 1",
                "\"",
                "'''",
                "[",
                "]",
                "\u{0}",
                "\t\t",
                "🦀 = 1",
                "name = \"a\" name = \"b\"",
            ])
            .to_string(),
        10 => {
            let n = rng.between(1, 40) as usize;
            (0..n)
                .map(|_| char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'))
                .collect()
        }
        _ => format!(
            "streams = [{}]",
            (0..rng.below(20))
                .map(|_| toml_number(rng))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl Arbitrary for TomlIsh {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut rng = SplitMix64::new(uniform_u64(g));
        let crlf = rng.below(8) == 0;
        let lines = if rng.coin() {
            (0..rng.between(0, 20))
                .map(|_| toml_line(&mut rng))
                .collect()
        } else {
            // A real scenario, mutated line by line.
            let s = random_scenario(&mut rng, &Limits::SMALL);
            let mut lines: Vec<String> = s.to_toml().lines().map(str::to_string).collect();
            for _ in 0..rng.between(1, 2) {
                let i = rng.below(lines.len() as u64 + 1) as usize;
                match rng.below(8) {
                    0 if i < lines.len() => {
                        lines.remove(i);
                    }
                    1 if i < lines.len() => {
                        let l = lines[i].clone();
                        lines.insert(i, l);
                    }
                    2..=5 if i < lines.len() => {
                        if let Some((key, value)) = lines[i].split_once(" = ") {
                            let value = if rng.below(4) > 0 {
                                typed_value(&mut rng, value)
                            } else {
                                toml_value(&mut rng, 3)
                            };
                            lines[i] = format!("{key} = {value}");
                        }
                    }
                    6 if i < lines.len() && !lines[i].is_empty() => {
                        let cut = rng.below(lines[i].len() as u64) as usize;
                        let cut = (0..=cut)
                            .rev()
                            .find(|&c| lines[i].is_char_boundary(c))
                            .unwrap_or(0);
                        lines[i].truncate(cut);
                    }
                    _ => lines.insert(i, toml_line(&mut rng)),
                }
            }
            lines
        };
        TomlIsh { lines, crlf }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let me = self.clone();
        Box::new((0..self.lines.len()).map(move |i| {
            let mut t = me.clone();
            t.lines.remove(i);
            t
        }))
    }
}

fn from_toml_on_tomlish(t: TomlIsh) -> TestResult {
    judge_toml(&t.text())
}

#[test]
fn from_toml_never_panics_on_toml_around_the_schema() {
    check("tomlish", 0x7041_0000_0000_0003, from_toml_on_tomlish);
}

fn round_trip_on_tomlish(t: TomlIsh) -> TestResult {
    judge_round_trip(&t.text())
}

/// Every scenario `from_toml` accepts is written back by `to_toml` (what trace files
/// embed, what `lbq replay` reads) to a file that reads the same. Finding: `to_toml`
/// quotes names with Rust's `{:?}`, which writes `\u{200b}` for a zero-width space (any
/// character Rust does not print as is: controls, U+FEFF, U+200B …), and TOML wants
/// `\u200B`: `name = "\u{200b}x"` is refused on the way back ("invalid unicode 4-digit
/// hex code"). Ignored until that is fixed; run with `--ignored`.
#[test]
fn accepted_scenarios_write_back_what_was_read() {
    let seed = seed(0x7041_0000_0000_0006);
    let n = cases();
    println!("round-trip: {n} cases, seed {seed:#x}");
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(200, seed))
        .tests(n)
        .max_tests(20 * n)
        .min_tests_passed(n / 20)
        .quickcheck(round_trip_on_tomlish as fn(TomlIsh) -> TestResult);
}

/// The generator is not vacuous: it reaches accepted scenarios and every kind of error.
#[test]
fn tomlish_reaches_accepted_scenarios_and_field_errors() {
    let mut g = Gen::from_size_and_seed(200, 3);
    let (mut ok, mut field, mut syntax) = (0, 0, 0);
    for _ in 0..2_000 {
        match Scenario::from_toml(&TomlIsh::arbitrary(&mut g).text(), "x") {
            Ok(_) => ok += 1,
            Err(lbqueue::ScenarioError::Field(..)) => field += 1,
            Err(lbqueue::ScenarioError::Syntax(..)) => syntax += 1,
        }
    }
    println!("tomlish: {ok} accepted, {field} field errors, {syntax} syntax errors of 2000");
    assert!(
        ok >= 20 && field >= 100 && syntax >= 500,
        "{ok} {field} {syntax}"
    );
}

/// Edges written out: deep nesting of every kind, numbers past every limit, unicode.
#[test]
fn from_toml_handles_the_hard_edges() {
    let valid = "algo = \"first\"\nthreads = 1\nstreams = [1]\n[[servers]]\nname = \"s1\"\n";
    let mut texts: Vec<String> = Vec::new();
    for depth in [1usize, 64, 127, 128, 129, 1_000, 100_000] {
        texts.push(format!(
            "threads = {}1{}",
            "[".repeat(depth),
            "]".repeat(depth)
        ));
        texts.push(format!(
            "threads = {}1{}",
            "{a=".repeat(depth),
            "}".repeat(depth)
        ));
        texts.push(format!("[{}]", vec!["a"; depth].join(".")));
        texts.push(format!("{} = 1", vec!["a"; depth].join(".")));
        texts.push(format!(
            "{valid}cli = {}{}",
            "[".repeat(depth),
            "]".repeat(depth)
        ));
    }
    for n in [
        "-1",
        "0",
        "9",
        "256",
        "-9223372036854775808",
        "9223372036854775807",
        "9223372036854775808",
        "1e999",
        "nan",
    ] {
        for key in ["threads", "maxconn", "weight"] {
            texts.push(format!("{valid}{key} = {n}"));
        }
        texts.push(valid.replace("threads = 1", &format!("threads = {n}")));
        texts.push(valid.replace("streams = [1]", &format!("streams = [{n}]")));
        texts.push(format!("{valid}maxconn = {n}\nweight = {n}"));
    }
    texts.push(valid.replace(
        "streams = [1]",
        &format!("streams = [{}]", ["1"; 13].join(",")),
    ));
    texts.push(valid.replace(
        "streams = [1]",
        &format!("streams = [{}]", ["1"; 100_000].join(",")),
    ));
    texts.push(format!(
        "{valid}cli = [{}]",
        ["\"enable server px/s1\""; 13].join(",")
    ));
    texts.push(format!("{valid}[[servers]]\nname = \"s1\"\n"));
    texts.push(format!(
        "{valid}{}",
        "[[servers]]\nname = \"x\"\n".repeat(5)
    ));
    texts.push(valid.replace("\"s1\"", "\"\""));
    texts.push(valid.replace("\"s1\"", "\"🦀\u{0}\u{7}\u{1b}[31m\""));
    texts.push(valid.replace("\"first\"", "\"fïrst\""));
    texts.push(format!("\u{feff}{valid}"));
    texts.push(valid.replace('\n', "\r\n"));
    texts.push(valid.replace('\n', "\r"));
    texts.push(format!("{valid}name = \"{}\"", "n".repeat(1 << 20)));
    texts.push(format!("{valid}description = \"\\u0000\\u001b\\uD800\""));
    texts.push(format!("{valid}description = \"\\U0010FFFF\\t\\u0007\""));
    for text in &texts {
        let r = judge_toml(text);
        assert!(
            !r.is_failure(),
            "{:?}…: {r:?}",
            text.chars().take(120).collect::<String>()
        );
    }
}

// ---------------------------------------------------------------------------------------
// TraceFile::parse

fn parse_on_bytes(bytes: Vec<u8>) -> TestResult {
    let _ = TraceFile::parse(&String::from_utf8_lossy(&bytes));
    TestResult::passed()
}

#[test]
fn trace_parse_never_panics_on_arbitrary_bytes() {
    check("trace-bytes", 0x7ace_0000_0000_0004, parse_on_bytes);
}

const TRACES: [&str; 3] = [
    include_str!("traces/livelock.json"),
    include_str!("traces/purge.json"),
    include_str!("traces/toctou.json"),
];

/// A real trace file, mutated as JSON (random nodes replaced by random values of any
/// type, keys removed or added, deep nesting), then maybe truncated.
#[derive(Clone)]
struct MutatedTrace(String);

impl fmt::Debug for MutatedTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MutatedTrace({:?})", self.0)
    }
}

fn random_json(rng: &mut SplitMix64, depth: u32) -> Value {
    let kinds = if depth == 0 { 4 } else { 7 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.coin()),
        2 => match rng.below(9) {
            0 => json!(-1),
            1 => json!(u64::MAX),
            2 => json!(i64::MIN),
            3 => json!(4_294_967_296u64),
            4 => json!(1.5),
            5 => json!(-0.0),
            6 => json!(1e300),
            7 => json!(1),
            _ => json!(rng.next_u64() % 100),
        },
        3 => Value::String(
            rng.pick(&[
                "",
                "lbq-trace",
                "T1",
                "T9",
                "T0",
                "T256",
                "CLI",
                "client",
                "timer S1",
                "timer S99",
                "always",
                "fair-cycle",
                "stuck-cycle",
                "solo-cycle",
                "livelock",
                "nope",
                "🦀\u{0}",
                "name = \"x\"\nalgo = \"first\"\nthreads = 1\nstreams = [1]\n[[servers]]\nname = \"s1\"",
            ])
            .to_string(),
        ),
        4 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        5 => {
            let mut m = Map::new();
            for _ in 0..rng.below(4) {
                let k = rng.pick(&["format", "version", "actions", "cycle_start", "x", ""]);
                m.insert(k.to_string(), random_json(rng, depth - 1));
            }
            Value::Object(m)
        }
        _ => {
            let mut v = json!(1);
            for _ in 0..*rng.pick(&[10u32, 127, 128, 129, 1_000]) {
                // Built by hand: `json!([v])` would serialize `v` again at every level.
                v = if rng.coin() {
                    Value::Array(vec![v])
                } else {
                    Value::Object(Map::from_iter([("a".to_string(), v)]))
                };
            }
            v
        }
    }
}

/// The number of nodes of `v`.
fn node_count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(node_count).sum(),
        Value::Object(m) => m.values().map(node_count).sum(),
        _ => 0,
    }
}

/// Applies `f` to the `k`-th node of `v` in pre-order (`k` already reduced modulo the
/// node count); says whether it was found under `v`.
fn visit<F: FnOnce(&mut Value)>(v: &mut Value, k: &mut usize, f: &mut Option<F>) -> bool {
    if *k == 0 {
        if let Some(f) = f.take() {
            f(v);
        }
        return true;
    }
    *k -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| visit(c, k, f)),
        Value::Object(m) => m.values_mut().any(|c| visit(c, k, f)),
        _ => false,
    }
}

fn with_nth_node(v: &mut Value, k: usize, f: impl FnOnce(&mut Value)) {
    let mut k = k % node_count(v);
    visit(v, &mut k, &mut Some(f));
}

impl Arbitrary for MutatedTrace {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut rng = SplitMix64::new(uniform_u64(g));
        let trace: &&str = rng.pick(&TRACES);
        let mut v: Value = serde_json::from_str(trace).expect("a valid trace file");
        for _ in 0..rng.between(1, 4) {
            let k = rng.next_u64() as usize;
            match rng.below(4) {
                0 => {
                    let new = random_json(&mut rng, 3);
                    with_nth_node(&mut v, k, |n| *n = new);
                }
                1 => with_nth_node(&mut v, k, |n| {
                    if let Value::Object(m) = n {
                        if let Some(key) = m.keys().next().cloned() {
                            m.remove(&key);
                        }
                    }
                }),
                2 => {
                    let new = random_json(&mut rng, 2);
                    with_nth_node(&mut v, k, |n| {
                        if let Value::Object(m) = n {
                            m.insert("unknown".into(), new);
                        }
                    })
                }
                _ => {
                    // The fields replay reads, set to something odd.
                    let field = *rng.pick(&["format", "version", "variant", "property", "kind"]);
                    let new = random_json(&mut rng, 1);
                    if let Value::Object(m) = &mut v {
                        m.insert(field.to_string(), new);
                    }
                }
            }
        }
        let mut text = v.to_string();
        if rng.below(5) == 0 {
            let cut = rng.below(text.len() as u64 + 1) as usize;
            let cut = (0..=cut)
                .rev()
                .find(|&c| text.is_char_boundary(c))
                .unwrap_or(0);
            text.truncate(cut);
        }
        MutatedTrace(text)
    }
}

fn parse_on_mutated_trace(t: MutatedTrace) -> TestResult {
    if let Ok(file) = TraceFile::parse(&t.0) {
        // What replay reads next must not panic either.
        let _ = Scenario::from_toml(&file.scenario.toml, &file.scenario.name);
    }
    TestResult::passed()
}

#[test]
fn trace_parse_never_panics_on_mutated_trace_files() {
    check("trace-json", 0x7ace_0000_0000_0005, parse_on_mutated_trace);
}

#[test]
fn trace_parse_handles_the_hard_edges() {
    let real: Value = serde_json::from_str(TRACES[0]).expect("valid");
    let mut texts: Vec<String> = vec![
        String::new(),
        "{}".into(),
        "[]".into(),
        "null".into(),
        "\u{feff}{}".into(),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("{}{}", "{\"a\":".repeat(100_000), "}".repeat(100_000)),
        TRACES[0][..TRACES[0].len() / 2].to_string(),
    ];
    for (field, value) in [
        ("version", json!(-1)),
        ("version", json!(4_294_967_297u64)),
        ("version", json!(1e300)),
        ("format", json!(null)),
        ("kind", json!("nope")),
        (
            "trace",
            json!({ "steps": [], "actions": [], "cycle_start": u64::MAX }),
        ),
        (
            "trace",
            json!({ "steps": [], "actions": ["T9", "timer S200"], "cycle_start": -1 }),
        ),
        ("scenario", json!({ "name": "", "toml": "🦀" })),
    ] {
        let mut v = real.clone();
        v[field] = value;
        texts.push(v.to_string());
    }
    for t in &texts {
        let _ = TraceFile::parse(t);
    }
    assert!(TraceFile::parse(TRACES[0]).is_ok());
}

/// `replay` on a trace file that parses but names an actor the scenario does not have
/// (`T9` with 2 threads; `timer S99` with 4 streams and `timeout queue`) must refuse it
/// (exit 2), not panic. Finding: `Trace::record` calls `lbqueue::is_enabled`, which
/// indexes `sys.threads[8]` / `sys.streams[98]` (crates/lbqueue/src/sections.rs) and
/// panics, so `lbq replay` exits 101. Ignored until that is fixed; run with `--ignored`.
#[test]
fn replay_refuses_actors_the_scenario_does_not_have() {
    for (actor, timeout) in [("T9", false), ("timer S99", true)] {
        let mut v: Value = serde_json::from_str(TRACES[2]).expect("valid");
        v["trace"]["actions"][0] = json!(actor);
        if timeout {
            let toml = v["scenario"]["toml"].as_str().expect("toml").to_string();
            v["scenario"]["toml"] =
                json!(toml.replace("queue_timeout = false", "queue_timeout = true"));
        }
        let file = TraceFile::parse(&v.to_string()).expect("parses");
        let r = std::panic::catch_unwind(|| lbqueue_models::replay::replay(&file, None));
        assert!(r.is_ok(), "replay panicked on action {actor:?}");
    }
}
