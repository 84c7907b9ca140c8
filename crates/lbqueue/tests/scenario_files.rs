//! Scenario files as users write them, and the embedded presets parsed by the same code.
//!
//! `lbq` prints a refused file's error as is (CHECKS.md, "Bad input"), so these tests pin
//! the exact messages: the line and field a TOML error points at (`describe_span`), and
//! for each range check of `ScenarioFile::validate` the field, what was expected and what
//! was found, on both sides of every bound (the largest value accepted, one more refused,
//! the smallest accepted, one less refused). They also pin what an accepted file becomes
//! (defaults, 0-based threads, CLI commands) and that `presets::all`, `reproduction` and
//! `names` list exactly the documented presets, in order.

use lbqueue::presets;
use lbqueue::scenario::{limits, ServerConfig};
use lbqueue::{CliCommand, CliKind, LbAlgo, Scenario, ScenarioError, Variant};

/// A valid file: one server `s1` with maxconn 1, two threads, two streams, one command.
/// The lines are numbered in the comments of the tests that point at them.
const GOOD: &str = "\
algo = \"roundrobin\"
threads = 2
streams = [1, 2]
cli = [\"disable server px/s1\"]

[[servers]]
name = \"s1\"
maxconn = 1
";

fn accepted(text: &str) -> Scenario {
    Scenario::from_toml(text, "from-file").unwrap_or_else(|e| panic!("refused ({e}):\n{text}"))
}

fn refusal(text: &str) -> ScenarioError {
    match Scenario::from_toml(text, "from-file") {
        Ok(s) => panic!("accepted as {s:?}:\n{text}"),
        Err(e) => e,
    }
}

/// The message `lbq` prints after `FILE: `.
fn refused(text: &str) -> String {
    refusal(text).to_string()
}

/// The top of `GOOD` (everything before its `[[servers]]` table) followed by `servers`.
fn with_servers(servers: &str) -> String {
    let top = GOOD.split("[[servers]]").next().unwrap();
    format!("{top}{servers}")
}

/// `GOOD` with `threads = 8` and `streams` set to `n` streams.
fn with_streams(n: usize) -> String {
    let list: Vec<String> = (0..n).map(|i| (i % 8 + 1).to_string()).collect();
    GOOD.replace("threads = 2", "threads = 8")
        .replace("[1, 2]", &format!("[{}]", list.join(", ")))
}

/// `GOOD` with a CLI script of `n` commands on `s1`.
fn with_cli(n: usize) -> String {
    let list = vec!["\"enable server px/s1\""; n];
    GOOD.replace(
        "[\"disable server px/s1\"]",
        &format!("[{}]", list.join(", ")),
    )
}

#[test]
fn the_good_file_reads_as_written() {
    let s = accepted(GOOD);
    assert_eq!(
        s,
        Scenario {
            name: "from-file".to_string(),
            description: String::new(),
            variant: Variant::Fixed,
            changes: Vec::new(),
            algo: LbAlgo::RoundRobin,
            servers: vec![ServerConfig {
                name: "s1".to_string(),
                maxconn: 1,
                weight: 1,
                strict_maxconn: false,
            }],
            threads: 2,
            // Threads are 1-based in files, 0-based in the model.
            streams: vec![0, 1],
            cli: vec![CliCommand {
                kind: CliKind::Disable,
                server: 0,
            }],
            queue_timeout: false,
            split_atomics: false,
            thread_groups: 1,
            cli_thread: None,
            connect_errors: 0,
            retries: 3,
            redispatch: false,
            abortonclose: true,
            seeded_bug: None,
        }
    );
}

#[test]
fn thread_groups_are_read_and_bounded_by_the_threads() {
    let two = accepted(&GOOD.replace("threads = 2", "threads = 2\nthread_groups = 2"));
    assert_eq!(two.thread_groups, 2);
    assert_eq!(
        Scenario::from_toml(&two.to_toml(), "x").unwrap(),
        two,
        "written back"
    );
    // Threads T1, T2 of three in group 1, T3 in group 2: HAProxy's even split.
    let three = Scenario {
        threads: 3,
        ..two.clone()
    };
    assert_eq!(
        (0..3).map(|t| three.tgroup_of(t)).collect::<Vec<_>>(),
        [0, 0, 1]
    );
    for (groups, found) in [("3", "3"), ("0", "0")] {
        let text = GOOD.replace(
            "threads = 2",
            &format!("threads = 2\nthread_groups = {groups}"),
        );
        let err = Scenario::from_toml(&text, "x").unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "scenario field `thread_groups`: expected an integer from 1 to 2, found {found}"
            )
        );
    }
}

#[test]
fn cli_thread_names_a_thread_of_the_scenario() {
    let on_2 = accepted(&GOOD.replace("threads = 2", "threads = 2\ncli_thread = 2"));
    assert_eq!(
        on_2.cli_thread,
        Some(1),
        "1-based in files, 0-based in the model"
    );
    assert_eq!(Scenario::from_toml(&on_2.to_toml(), "x").unwrap(), on_2);
    assert_eq!(on_2.haproxy_threads(), 2);
    assert_eq!(
        accepted(GOOD).haproxy_threads(),
        3,
        "2 threads + the free CLI's"
    );
    let err = refused(&GOOD.replace("threads = 2", "threads = 2\ncli_thread = 3"));
    assert_eq!(
        err,
        "scenario field `cli_thread`: expected an integer from 1 to 2, found 3"
    );
}

#[test]
fn connection_errors_retries_and_redispatch_are_read_and_bounded() {
    let s = accepted(&GOOD.replace(
        "threads = 2",
        "threads = 2\nconnect_errors = 2\nretries = 1\nredispatch = true",
    ));
    assert_eq!((s.connect_errors, s.retries, s.redispatch), (2, 1, true));
    assert_eq!(Scenario::from_toml(&s.to_toml(), "x").unwrap(), s);
    assert_eq!(accepted(GOOD).retries, 3, "HAProxy's default retries");
    for (field, value, expected) in [
        ("connect_errors", "8", "an integer from 0 to 7"),
        ("retries", "4", "an integer from 0 to 3"),
    ] {
        let text = GOOD.replace("threads = 2", &format!("threads = 2\n{field} = {value}"));
        assert_eq!(
            refused(&text),
            format!("scenario field `{field}`: expected {expected}, found {value}")
        );
    }
}

#[test]
fn abortonclose_is_on_unless_a_file_turns_it_off() {
    assert!(
        accepted(GOOD).abortonclose,
        "the model's default: the kill may land first"
    );
    let s = accepted(&GOOD.replace("threads = 2", "threads = 2\nabortonclose = false"));
    assert!(!s.abortonclose);
    assert!(s.to_toml().contains("abortonclose = false"));
    assert_eq!(Scenario::from_toml(&s.to_toml(), "x").unwrap(), s);
}

#[test]
fn an_unknown_field_is_named_with_its_line() {
    // `colour` lands on line 3, between `threads` and `streams`.
    let text = GOOD.replace("threads = 2", "threads = 2\ncolour = 3");
    assert_eq!(
        refused(&text),
        "scenario file, line 3, field `colour`: unknown field `colour`, expected one of \
         `name`, `description`, `variant`, `behaviour`, `algo`, `threads`, `streams`, `cli`, \
         `queue_timeout`, `atomics`, `thread_groups`, `cli_thread`, `connect_errors`, `retries`, `redispatch`, `abortonclose`, `servers`"
    );
    // Inside a `[[servers]]` table (line 9) the expected fields are a server's.
    let text = GOOD.replace("maxconn = 1", "maxconn = 1\nbackup = true");
    assert_eq!(
        refused(&text),
        "scenario file, line 9, field `backup`: unknown field `backup`, expected one of \
         `name`, `maxconn`, `weight`, `strict_maxconn`"
    );
}

#[test]
fn a_field_of_the_wrong_type_is_named_with_its_line() {
    // Line 2: the lines after it (`streams`, `cli`) must not be named instead.
    let err = refusal(&GOOD.replace("threads = 2", "threads = \"two\""));
    assert_eq!(
        err,
        ScenarioError::Syntax(
            "invalid type: string \"two\", expected i64".to_string(),
            "line 2, field `threads`".to_string()
        )
    );
    assert_eq!(
        err.to_string(),
        "scenario file, line 2, field `threads`: invalid type: string \"two\", expected i64"
    );
    // Line 1, the first line: no line before it to count.
    assert_eq!(
        refused(&GOOD.replace("\"roundrobin\"", "1")),
        "scenario file, line 1, field `algo`: invalid type: integer `1`, expected a string"
    );
    // Line 3, one element of a list.
    assert_eq!(
        refused(&GOOD.replace("[1, 2]", "[1, \"2\"]")),
        "scenario file, line 3, field `streams`: invalid type: string \"2\", expected i64"
    );
    // The last line of the file, in a second `[[servers]]` table (from line 10).
    let text = format!("{GOOD}\n[[servers]]\nname = \"s2\"\nweight = \"heavy\"\n");
    assert_eq!(
        refused(&text),
        "scenario file, line 12, field `weight`: invalid type: string \"heavy\", expected i64"
    );
}

#[test]
fn text_that_is_not_toml_is_refused_at_its_line() {
    assert_eq!(
        refused("this is = = not toml"),
        "scenario file, line 1, field `this is`: expected `.`, `=`"
    );
    // A line whose key is empty names no field.
    assert_eq!(
        refused("algo = \"hash\"\n\n   = 3\n"),
        "scenario file, line 3: invalid key"
    );
}

#[test]
fn a_table_header_is_not_taken_for_a_field() {
    // `servers` written as one table instead of an array of tables: the error points at
    // the header (line 6), whose comment holds an `=` but which is no `key = value`.
    let text = GOOD.replace("[[servers]]", "[servers] # weight = 2");
    assert_eq!(
        refused(&text),
        "scenario file, line 6: invalid type: map, expected a sequence"
    );
}

#[test]
fn a_missing_field_names_the_line_of_its_table_and_no_field() {
    // The span of a missing field is its whole table: line 1 for the top level, even
    // though line 1 (`threads = 2` once `algo` is gone) is a `key = value`.
    assert_eq!(
        refused(&GOOD.replace("algo = \"roundrobin\"\n", "")),
        "scenario file, line 1: missing field `algo`"
    );
    assert_eq!(
        refused(&GOOD.replace("streams = [1, 2]\n", "")),
        "scenario file, line 1: missing field `streams`"
    );
    // A `[[servers]]` table (line 6) without `name`.
    assert_eq!(
        refused(&GOOD.replace("name = \"s1\"\n", "")),
        "scenario file, line 6: missing field `name`"
    );
    assert_eq!(refused(""), "scenario file, line 1: missing field `algo`");
}

#[test]
fn servers_takes_one_to_four_tables() {
    let err = refusal(&with_servers("servers = []\n"));
    assert_eq!(
        err,
        ScenarioError::Field(
            "servers".to_string(),
            "1 to 4 [[servers]] tables".to_string(),
            "0".to_string()
        )
    );
    assert_eq!(
        err.to_string(),
        "scenario field `servers`: expected 1 to 4 [[servers]] tables, found 0"
    );
    let tables = |n: usize| -> String {
        (1..=n)
            .map(|i| format!("[[servers]]\nname = \"s{i}\"\n"))
            .collect()
    };
    assert_eq!(accepted(&with_servers(&tables(1))).servers.len(), 1);
    let four = accepted(&with_servers(&tables(limits::SERVERS)));
    let names: Vec<&str> = four.servers.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["s1", "s2", "s3", "s4"]);
    assert_eq!(
        refused(&with_servers(&tables(limits::SERVERS + 1))),
        "scenario field `servers`: expected 1 to 4 [[servers]] tables, found 5"
    );
}

#[test]
fn server_names_are_non_empty_and_used_once() {
    assert_eq!(
        refused(&GOOD.replace("name = \"s1\"", "name = \"\"")),
        "scenario field `servers[0].name`: expected a non-empty name used once, found \"\""
    );
    let two = |a: &str, b: &str| {
        with_servers(&format!(
            "[[servers]]\nname = \"{a}\"\n\n[[servers]]\nname = \"{b}\"\n"
        ))
    };
    assert_eq!(
        refused(&two("s1", "s1")),
        "scenario field `servers[1].name`: expected a non-empty name used once, found \"s1\""
    );
    assert_eq!(
        refused(&two("s1", "")),
        "scenario field `servers[1].name`: expected a non-empty name used once, found \"\""
    );
    let s = accepted(&two("s1", "web2"));
    assert_eq!(
        (s.servers[0].name.as_str(), s.servers[1].name.as_str()),
        ("s1", "web2")
    );
}

#[test]
fn maxconn_is_0_to_8_and_weight_1_to_16() {
    let server = |fields: &str| with_servers(&format!("[[servers]]\nname = \"s1\"\n{fields}"));
    let first = |fields: &str| accepted(&server(fields)).servers[0].clone();
    // Omitted: unlimited maxconn, weight 1.
    assert_eq!((first("").maxconn, first("").weight), (0, 1));
    assert_eq!(first("maxconn = 0\n").maxconn, 0);
    assert_eq!(first("maxconn = 8\n").maxconn, limits::MAXCONN);
    for bad in [9, 99, -1] {
        assert_eq!(
            refused(&server(&format!("maxconn = {bad}\n"))),
            format!(
                "scenario field `servers[0].maxconn`: expected an integer from 0 to 8, found {bad}"
            )
        );
    }
    assert_eq!(first("weight = 1\n").weight, 1);
    assert_eq!(first("weight = 16\n").weight, limits::WEIGHT);
    for bad in [0, 17, -1] {
        assert_eq!(
            refused(&server(&format!("weight = {bad}\n"))),
            format!(
                "scenario field `servers[0].weight`: expected an integer from 1 to 16, found {bad}"
            )
        );
    }
    // The field is named after the table it is in.
    let text = format!("{GOOD}\n[[servers]]\nname = \"s2\"\nmaxconn = 9\n");
    assert_eq!(
        refused(&text),
        "scenario field `servers[1].maxconn`: expected an integer from 0 to 8, found 9"
    );
}

#[test]
fn threads_is_1_to_8() {
    let threads = |n: i64| GOOD.replace("threads = 2", &format!("threads = {n}"));
    for bad in [0, 9, -2] {
        assert_eq!(
            refusal(&threads(bad)),
            ScenarioError::Field(
                "threads".to_string(),
                "an integer from 1 to 8".to_string(),
                bad.to_string()
            )
        );
    }
    assert_eq!(
        refused(&threads(0)),
        "scenario field `threads`: expected an integer from 1 to 8, found 0"
    );
    assert_eq!(accepted(&threads(8)).threads, limits::THREADS);
    // One thread: stream 2's thread is now a missing one.
    assert_eq!(
        refused(&threads(1)),
        "scenario field `streams[1]`: expected an integer from 1 to 1, found 2"
    );
}

#[test]
fn streams_is_a_list_of_1_to_64_configured_threads() {
    for (n, found) in [(0, "0 entries"), (limits::STREAMS + 1, "65 entries")] {
        assert_eq!(
            refused(&with_streams(n)),
            format!(
                "scenario field `streams`: expected a list of 1 to 64 thread numbers, found {found}"
            )
        );
    }
    assert_eq!(accepted(&with_streams(1)).streams, [0]);
    let most = accepted(&with_streams(limits::STREAMS));
    assert_eq!(most.streams.len(), 64);
    // Threads 1..=8 in turn, 0-based in the model.
    assert_eq!(&most.streams[..9], [0, 1, 2, 3, 4, 5, 6, 7, 0]);
    assert_eq!(
        refused(&GOOD.replace("[1, 2]", "[1, 3]")),
        "scenario field `streams[1]`: expected an integer from 1 to 2, found 3"
    );
    assert_eq!(
        refused(&GOOD.replace("[1, 2]", "[0, 2]")),
        "scenario field `streams[0]`: expected an integer from 1 to 2, found 0"
    );
}

#[test]
fn the_cli_script_is_at_most_36_known_commands_on_configured_servers() {
    assert_eq!(accepted(&with_cli(0)).cli, []);
    assert_eq!(
        accepted(&with_cli(limits::CLI_COMMANDS)).cli,
        vec![
            CliCommand {
                kind: CliKind::Enable,
                server: 0
            };
            36
        ]
    );
    assert_eq!(
        refused(&with_cli(limits::CLI_COMMANDS + 1)),
        "scenario field `cli`: expected at most 36 commands, found 37"
    );
    assert_eq!(
        refused(&GOOD.replace("px/s1\"]", "px/s9\"]")),
        "scenario field `cli[0]`: expected `disable server px/<server>`, `shutdown sessions \
         server px/<server>` or `enable server px/<server>` naming a configured server, \
         found \"disable server px/s9\""
    );
    assert_eq!(
        refused(&GOOD.replace("disable server", "reboot server")),
        "scenario field `cli[0]`: expected `disable server px/<server>`, `shutdown sessions \
         server px/<server>` or `enable server px/<server>`, found \"reboot server px/s1\""
    );
    // The index is the command's.
    let text = GOOD.replace(
        "[\"disable server px/s1\"]",
        "[\"disable server px/s1\", \"set server px/s1 state ready\"]",
    );
    assert!(refused(&text).starts_with("scenario field `cli[1]`: expected `disable server"));
}

#[test]
fn cli_commands_read_as_haproxy_s_cli_writes_them() {
    let text = with_servers("[[servers]]\nname = \"s1\"\n\n[[servers]]\nname = \"s2\"\n").replace(
        "[\"disable server px/s1\"]",
        // The backend name is not checked (there is one backend), nor is it required;
        // words may be separated by any whitespace.
        "[\"disable server px/s2\", \"shutdown sessions server be/s2\", \
         \"enable  server\\ts2\", \"disable server px/s1\"]",
    );
    let s = accepted(&text);
    let cmd = |kind, server| CliCommand { kind, server };
    assert_eq!(
        s.cli,
        [
            cmd(CliKind::Disable, 1),
            cmd(CliKind::Shutdown, 1),
            cmd(CliKind::Enable, 1),
            cmd(CliKind::Disable, 0),
        ]
    );
    let typed: Vec<String> = s.cli.iter().map(|&c| s.cli_text(c)).collect();
    assert_eq!(
        typed,
        [
            "disable server px/s2",
            "shutdown sessions server px/s2",
            "enable server px/s2",
            "disable server px/s1",
        ]
    );
    assert_eq!(s.cli_section_count(), 8);
}

#[test]
fn optional_fields_take_their_documented_defaults_or_the_values_given() {
    let s = accepted(GOOD);
    assert_eq!(
        (s.name.as_str(), s.description.as_str(), s.variant),
        ("from-file", "", Variant::Fixed)
    );
    assert!(!s.queue_timeout && !s.split_atomics);
    let text = format!(
        "name = \"mine\"\ndescription = \"one line\"\nqueue_timeout = true\n\
         atomics = \"split\"\n{GOOD}"
    );
    let s = accepted(&text);
    assert_eq!(
        (s.name.as_str(), s.description.as_str()),
        ("mine", "one line")
    );
    assert!(s.queue_timeout && s.split_atomics);
    assert!(!accepted(&format!("atomics = \"in-section\"\n{GOOD}")).split_atomics);
    assert_eq!(
        refused(&format!("atomics = \"sometimes\"\n{GOOD}")),
        "scenario field `atomics`: expected \"in-section\" or \"split\", found \"sometimes\""
    );
    for v in Variant::ALL {
        let text = format!("variant = \"{}\"\n{GOOD}", v.name());
        assert_eq!(accepted(&text).variant, v);
    }
    assert_eq!(
        refused(&format!("variant = \"yolo\"\n{GOOD}")),
        "scenario field `variant`: expected one of toctou, livelock, purge, ca275, upstream, fixed, \
         bounded-retry, change-counter, ready-srv, master, master-fixed, found \"yolo\""
    );
    for (name, algo) in [
        ("roundrobin", LbAlgo::RoundRobin),
        ("static-rr", LbAlgo::StaticRr),
        ("first", LbAlgo::First),
        ("hash", LbAlgo::Hash),
    ] {
        assert_eq!(accepted(&GOOD.replace("roundrobin", name)).algo, algo);
    }
    assert_eq!(
        refused(&GOOD.replace("roundrobin", "leastconn")),
        "scenario field `algo`: expected one of roundrobin, static-rr, first, hash, \
         found \"leastconn\""
    );
}

#[test]
fn presets_names_lists_the_checkable_presets_in_order() {
    let names: Vec<&str> = presets::names().collect();
    assert_eq!(
        names,
        [
            "seed",
            "one-thread",
            "hash",
            "two-servers",
            "timeouts",
            "first"
        ]
    );
    assert_eq!(names[0], presets::DEFAULT);
    // The reproduction-scale preset is reachable by name but not listed as checkable.
    assert!(!names.contains(&presets::REPRO));
    assert!(presets::get(presets::REPRO).is_some());
    assert_eq!(presets::get("xyzzy"), None);
}

#[test]
fn presets_all_parses_every_checkable_preset_in_order() {
    let all = presets::all();
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "seed",
            "one-thread",
            "hash",
            "two-servers",
            "timeouts",
            "first"
        ]
    );
    for s in &all {
        assert_eq!(Some(s), presets::get(&s.name).as_ref());
        // Checked as the current queue logic unless a variant is asked for.
        assert_eq!(s.variant, Variant::Fixed, "{}", s.name);
        // Small enough for an exhaustive search (CHECKS.md, "Scale").
        assert!(s.streams.len() <= 4 && s.threads <= 2, "{}", s.name);
    }
    // The default: the seed commit's reproducer scaled down.
    let seed = &all[0];
    assert_eq!(
        (seed.algo, seed.threads, seed.streams.as_slice()),
        (LbAlgo::RoundRobin, 2, [1, 0, 1, 0].as_slice())
    );
    assert_eq!(
        seed.cli
            .iter()
            .map(|&c| seed.cli_text(c))
            .collect::<Vec<_>>(),
        [
            "disable server px/s1",
            "shutdown sessions server px/s1",
            "enable server px/s1"
        ]
    );
    let by_name = |n: &str| all.iter().find(|s| s.name == n).unwrap();
    assert_eq!(by_name("one-thread").threads, 1);
    assert_eq!(by_name("hash").algo, LbAlgo::Hash);
    assert_eq!(by_name("two-servers").servers.len(), 2);
    assert!(by_name("timeouts").queue_timeout);
    assert_eq!(by_name("first").algo, LbAlgo::First);
    assert_eq!(
        all.iter().filter(|s| s.queue_timeout).count(),
        1,
        "only `timeouts` sets timeout queue"
    );
}

#[test]
fn presets_reproduction_is_the_seed_commit_s_reproducer_at_scale() {
    let repro = presets::reproduction();
    assert_eq!(repro.len(), 1);
    let s = &repro[0];
    assert_eq!(s.name, presets::REPRO);
    assert_eq!(Some(s), presets::get("repro").as_ref());
    assert_eq!(
        s.servers,
        [ServerConfig {
            name: "s1".to_string(),
            maxconn: 1,
            weight: 1,
            strict_maxconn: false,
        }]
    );
    assert_eq!(
        (s.algo, s.threads, s.streams.len()),
        (LbAlgo::RoundRobin, 4, 40)
    );
    // 40 streams spread over the 4 threads in turn.
    assert!(s
        .streams
        .iter()
        .enumerate()
        .all(|(i, &t)| t as usize == i % 4));
    // Three cycles of disable / shutdown sessions / enable on s1.
    let cycle = [CliKind::Disable, CliKind::Shutdown, CliKind::Enable];
    let kinds: Vec<CliKind> = s.cli.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, cycle.repeat(3));
    assert!(s.cli.iter().all(|c| c.server == 0));
}

#[test]
fn every_preset_reads_back_from_its_own_toml() {
    for s in presets::all().into_iter().chain(presets::reproduction()) {
        assert_eq!(accepted(&s.to_toml()), s, "{}", s.name);
    }
}
