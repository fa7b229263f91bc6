#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::PathBuf;

use crate::book::{heading_id, headings, Book};
use crate::checklist::{self, parse_libtest, reason, Reason};
use crate::learner::source_files;
use crate::manifest;
use crate::skeleton::{allow_in_main, transform, without_allow, Fill, Mark, ALLOW_LINE};
use crate::stages::{parse, STAGES};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn no_book(m: &Mark) -> String {
    format!("book/src/{}#{}", m.chapter, m.section)
}

#[test]
fn a_stage_is_named_by_number_or_crate() {
    for arg in ["3", "03", "step03", "step03-pid"] {
        assert_eq!(parse(arg).unwrap().name, "step03-pid", "{arg}");
    }
    assert_eq!(parse("7").unwrap().name, "step07-full");
    assert_eq!(parse("8").unwrap().name, "step08-rootless");
    for bad in ["0", "9", "09", "step3", "step03-pi", "+3", "three", ""] {
        let err = parse(bad).err().unwrap_or_else(|| panic!("{bad:?} was taken"));
        assert!(err.error.starts_with("unknown stage"), "{bad}: {err}");
        assert!(err.hint.contains("step08-rootless"), "{err}");
    }
}

#[test]
fn heading_ids_are_mdbooks() {
    assert_eq!(heading_id("The key code"), "the-key-code");
    assert_eq!(
        heading_id("cgroup v2: controllers from the top down"),
        "cgroup-v2-controllers-from-the-top-down"
    );
    assert_eq!(heading_id("The veth pair, in one request"), "the-veth-pair-in-one-request");
    let md = "# Step\n## The `key` code\n```sh\n# not a heading\n```\n## Try it\n### Try it\n";
    let ids: Vec<String> = headings(md).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["step", "the-key-code", "try-it", "try-it-1"]);
    assert_eq!(headings("## A [link](x.md) *here*")[0].1, "A link here");
}

const SOURCE: &str = "\
//! doc
//! more

fn main() {
    // ANCHOR: outer
    let a = 1;
    // ANCHOR: your_turn_one -- step01-uts.md#the-key-code: write \"{x}\" here
    // a comment
    println!(\"{a}\");

    println!(\"two\");
    // ANCHOR_END: your_turn_one
        // ANCHOR: your_turn_two -- step02-self-exec.md#the-key-code: make cmd [let mut cmd: Command]
        let mut cmd = Command::new(\"x\");
        // ANCHOR_END: your_turn_two
    // ANCHOR_END: outer
}
";

#[test]
fn the_skeleton_has_a_comment_and_a_todo_for_each_block() {
    let (out, marks) = transform("main.rs", SOURCE, Fill::Todo, &no_book).unwrap();
    assert!(!out.contains("ANCHOR"), "{out}");
    assert!(!out.contains("println"), "{out}");
    assert!(out.contains(
        "    // Your turn (book/src/step01-uts.md#the-key-code):\n    // write \"{x}\" here\n    todo!(\"your turn: write \\\"{{x}}\\\" here\");\n"
    ), "{out}");
    assert!(
        out.contains("        let mut cmd: Command = todo!(\"your turn: make cmd\");\n"),
        "{out}"
    );
    assert!(out.contains("    let a = 1;\n"));
    assert_eq!(marks.len(), 2);
    assert_eq!((marks[0].name.as_str(), marks[0].line, marks[0].code_lines), ("one", 7, 2));
    assert_eq!(marks[0].what, "write \"{x}\" here");
    assert_eq!(marks[1].binding.as_deref(), Some("let mut cmd: Command"));
    assert_eq!(marks[1].what, "make cmd");
}

#[test]
fn the_solution_is_the_reference_without_anchors() {
    let (out, marks) = transform("main.rs", SOURCE, Fill::Reference, &no_book).unwrap();
    let expected: String =
        SOURCE.lines().filter(|l| !l.contains("// ANCHOR")).map(|l| format!("{l}\n")).collect();
    assert_eq!(out, expected);
    assert_eq!(marks.len(), 2);
}

#[test]
fn broken_marks_are_refused_with_where() {
    let cases = [
        ("// ANCHOR: your_turn_a -- x.md#s: w\nx;\n", "has no ANCHOR_END"),
        (
            "// ANCHOR: your_turn_a -- x.md#s: w\nx;\n// ANCHOR_END: your_turn_b\n",
            "ends your_turn_a",
        ),
        ("// ANCHOR: your_turn_a -- x.md#s: w\n// ANCHOR: your_turn_b -- x.md#s: w\n", "inside"),
        ("// ANCHOR_END: your_turn_a\n", "without its ANCHOR"),
        ("// ANCHOR: your_turn_a x.md#s: w\nx;\n// ANCHOR_END: your_turn_a\n", "no ` -- `"),
        (
            "// ANCHOR: your_turn_a -- x.md: w\nx;\n// ANCHOR_END: your_turn_a\n",
            "not CHAPTER.md#SECTION",
        ),
        (
            "// ANCHOR: your_turn_a -- x.md#s: w\n// only a comment\n// ANCHOR_END: your_turn_a\n",
            "marks no code",
        ),
    ];
    for (source, want) in cases {
        let err = transform("f.rs", source, Fill::Todo, &no_book).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains(want) && text.contains("src/f.rs:"), "{source:?}: {text}");
    }
}

#[test]
fn the_allow_line_goes_after_the_opening_doc_comment() {
    assert_eq!(
        allow_in_main("//! a\n//! b\n\nmod x;\n"),
        format!("//! a\n//! b\n\n{ALLOW_LINE}\n\nmod x;\n")
    );
    assert_eq!(allow_in_main("mod x;\n"), format!("{ALLOW_LINE}\n\nmod x;\n"));
    for main in ["//! a\n//! b\n\nmod x;\n", "mod x;\n", "//! a\nmod x;\n"] {
        assert_eq!(without_allow(&allow_in_main(main)), main);
    }
    // The comments start put above a todo!() go too; the learner's own stay.
    let filled =
        "fn f() {\n    // Your turn (\"The key code\" in book/src/x.md):\n    // write it\n    \
                  // mine\n    g();\n}\n";
    assert_eq!(without_allow(filled), "fn f() {\n    // mine\n    g();\n}\n");
}

#[test]
fn every_stage_manifest_becomes_a_workspace_of_its_own() {
    let root_toml = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let shared = manifest::Root::parse(&root_toml).unwrap();
    for stage in &STAGES {
        let toml = fs::read_to_string(root().join(stage.name).join("Cargo.toml")).unwrap();
        let out = manifest::rewrite(&toml, &stage.package(), &shared, "a\nb").unwrap();
        assert!(out.starts_with("# a\n# b\n[package]\n"), "{out}");
        assert!(out.contains(&format!("name = \"mine-{}\"\n", stage.name)), "{out}");
        assert!(out.contains("\nedition = \"2021\"\n"), "{out}");
        assert!(out.contains("\nnix = { version = "), "{out}");
        assert!(out.contains("\n[workspace]\n"), "{out}");
        assert!(out.contains("\n[profile.release]\npanic = \"abort\"\n"), "{out}");
        assert!(!out.contains("[lints]"), "{out}");
        assert!(!out.contains("workspace = true"), "{out}");
    }
}

/// `fn` names after `#[test]`, and the names `root_tests!` makes.
fn tests_in(file: &str) -> Vec<String> {
    let text = fs::read_to_string(root().join("tests/tests").join(file)).unwrap();
    let mut names = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == "#[test]" {
            let f = lines[i + 1..].iter().find_map(|l| l.trim().strip_prefix("fn ")).unwrap();
            names.push(f.split('(').next().unwrap().to_string());
        }
    }
    let mut rest = text.as_str();
    while let Some(at) = rest.find("\nroot_tests!(") {
        // root_tests!(stage(); a, b, c);
        let call = &rest[at..];
        let list = &call[call.find(';').unwrap() + 1..];
        let end = list.find(");").unwrap();
        names.extend(
            list[..end].split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from),
        );
        rest = &list[end..];
    }
    names
}

/// The tests of `file` that need root: those whose body calls
/// `root_or_skip`, and those made by `root_tests!`, which calls it.
fn root_tests_in(file: &str) -> Vec<String> {
    let text = fs::read_to_string(root().join("tests/tests").join(file)).unwrap();
    let all = tests_in(file);
    all.into_iter()
        .filter(|name| {
            let Some(at) = text.find(&format!("\nfn {name}(")) else {
                return true; // not a plain fn: made by root_tests!
            };
            let body = &text[at..];
            let end = body[1..].find("\n}\n").map_or(body.len(), |e| e + 1);
            body[..end].contains("root_or_skip(")
        })
        .collect()
}

#[test]
fn a_rootless_stage_leaves_out_exactly_its_root_tests() {
    for stage in STAGES.iter().filter(|s| s.rootless()) {
        let mut want = root_tests_in(&format!("{}.rs", stage.test_target()));
        let mut have: Vec<String> = stage.needs_root().iter().map(|t| t.to_string()).collect();
        want.sort();
        have.sort();
        assert_eq!(have, want, "{}: Stage::needs_root against its root-gated tests", stage.name);
    }
    assert!(STAGES.iter().filter(|s| !s.rootless()).all(|s| s.needs_root().is_empty()));
}

#[test]
fn the_checklist_table_names_every_test_of_every_stage() {
    let book = Book::new(&root());
    for stage in &STAGES {
        let file = format!("{}.rs", stage.test_target());
        let tests = tests_in(&file);
        assert!(tests.len() >= 5, "{file}: only {tests:?}");
        for test in &tests {
            assert!(
                checklist::lookup(stage.number, test).is_some(),
                "{file}: the test {test} is not in workshop/src/checklist.rs: say in plain words what it checks, and where the book explains it"
            );
        }
        for entry in checklist::entries(stage.number) {
            let (chapter, id) = entry.section.split_once('#').unwrap();
            assert!(
                book.heading(chapter, id).is_some(),
                "{}: no section {}",
                entry.test,
                entry.section
            );
        }
    }
    // No entry of a stage's own list is stale.
    for stage in &STAGES {
        let tests = tests_in(&format!("{}.rs", stage.test_target()));
        let own: Vec<&str> = checklist::entries(stage.number)
            .map(|e| e.test)
            .take_while(|t| *t != "hostname_change_stays_inside")
            .collect();
        for test in own {
            assert!(tests.iter().any(|t| t == test), "{}: {test} is no test of it", stage.name);
        }
    }
}

#[test]
fn every_stages_marks_parse_and_name_a_real_section() {
    let book = Book::new(&root());
    for stage in &STAGES {
        let src = root().join(stage.name).join("src");
        for rel in source_files(&src).unwrap() {
            if rel.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = fs::read_to_string(src.join(&rel)).unwrap();
            let (out, marks) = transform(&rel.to_string_lossy(), &text, Fill::Todo, &no_book)
                .unwrap_or_else(|e| panic!("{}: {e:#}", stage.name));
            assert!(!out.contains("// ANCHOR"), "{}", rel.display());
            for m in marks {
                assert!(
                    book.heading(&m.chapter, &m.section).is_some(),
                    "{}/src/{}:{}: your_turn_{} names {}#{}, which has no such heading",
                    stage.name,
                    m.file,
                    m.line,
                    m.name,
                    m.chapter,
                    m.section
                );
            }
        }
    }
}

const LIBTEST: &str = "
running 3 tests
test command_is_pid_1 ... FAILED
test usage_errors ... ok
test mystery_test ... FAILED

failures:

---- command_is_pid_1 stdout ----

thread 'command_is_pid_1' panicked at tests/src/checks.rs:148:48:
Unexpected failure.
code=101
stderr=```
thread 'main' panicked at src/main.rs:93:5:
not yet implemented: your turn: unshare(CLONE_NEWPID) here
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
```

---- mystery_test stdout ----

thread 'mystery_test' panicked at tests/tests/step03_pid.rs:40:10:
assertion `left == right` failed
  left: 1
 right: 2


failures:
    command_is_pid_1
    mystery_test

test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s
";

#[test]
fn libtest_output_is_read_back_with_each_failures_reason() {
    let outcomes = parse_libtest(LIBTEST);
    let seen: Vec<(&str, bool)> = outcomes.iter().map(|o| (o.test.as_str(), o.passed)).collect();
    assert_eq!(
        seen,
        [("command_is_pid_1", false), ("usage_errors", true), ("mystery_test", false)]
    );
    assert!(outcomes[0].output.contains("not yet implemented"));
    assert!(outcomes[2].output.contains("left: 1"));
    assert!(!outcomes[2].output.contains("failures:"));
    let mark = Mark {
        name: "newpid".into(),
        file: "main.rs".into(),
        line: 90,
        chapter: "step03-pid.md".into(),
        section: "the-key-code".into(),
        what: "unshare(CLONE_NEWPID) here".into(),
        binding: None,
        code_lines: 3,
    };
    let marks = [mark];
    match reason(&outcomes[0].output, &marks) {
        Reason::Todo { mark, what, at } => {
            assert_eq!(mark.unwrap().name, "newpid");
            assert_eq!(what, "unshare(CLONE_NEWPID) here");
            assert_eq!(at.as_deref(), Some("src/main.rs:93:5"));
        }
        Reason::Line(l) => panic!("no todo found: {l}"),
    }
    // Shown as a Rust string: quotes escaped.
    let mut quoted = marks[0].clone();
    quoted.what = "write \"tasks\" here".into();
    let debug = format!("stderr: {:?}", "not yet implemented: your turn: write \"tasks\" here\n");
    match reason(&debug, std::slice::from_ref(&quoted)) {
        Reason::Todo { mark, .. } => assert_eq!(mark.unwrap().what, quoted.what),
        Reason::Line(l) => panic!("no todo found: {l}"),
    }
    match reason(&outcomes[2].output, &marks) {
        Reason::Line(l) => assert_eq!(l, "assertion `left == right` failed (left: 1, right: 2)"),
        Reason::Todo { .. } => panic!("a todo in the mystery"),
    }
}

/// What `assert_cmd` and a panicking program look like in a failure.
#[test]
fn a_failure_is_told_as_what_was_expected_and_what_came() {
    let unexpected_failure = "
thread 'hostname_flag' (123) panicked at tests/src/checks.rs:127:60:
Unexpected failure.
code=125
stderr=``````
error: unexpected argument \\'--rootfs\\' found
hint: see `step03-pid run --help`
```
```
command=`\"/x/step03-pid\" \"run\" \"true\"`
code=125
stdout=\"\"
";
    assert_eq!(
        checklist::first_useful_line(unexpected_failure),
        "exit status 125, expected 0: error: unexpected argument '--rootfs' found"
    );
    let unexpected_stdout = "
thread 'command_is_pid_1' (7979) panicked at tests/tests/step03_pid.rs:23:37:
Unexpected stdout, failed diff original var
├── original: 1
├── diff: 
│   -1
│   +7986
└── var as str: 7986

command=`\"/x/mine-step03-pid\" \"run\" \"sh\" \"-c\" \"echo $$\"`
code=0
stdout=\"7986\\n\"
stderr=\"\"

stack backtrace:
   0: __rustc::rust_begin_unwind
";
    assert_eq!(
        checklist::first_useful_line(unexpected_stdout),
        "stdout was \"7986\", expected \"1\""
    );
    let code = "
thread 'x' (1) panicked at tests/tests/step06_cgroups.rs:109:10:
Unexpected return code, failed var == 137
└── var: 125

code=125
stderr=```
error: unexpected argument \\'--memory\\' found
```
";
    assert_eq!(
        checklist::first_useful_line(code),
        "exit status 125, expected 137: error: unexpected argument '--memory' found"
    );
    let one_line = "
thread 'x' (1) panicked at tests/src/checks.rs:20:40:
Unexpected failure.
code=125
stderr=\"error: unmounting /dev/.pivot_root.0qafFj: EBUSY: Device or resource busy\\n\"
";
    assert_eq!(
        checklist::first_useful_line(one_line),
        "exit status 125, expected 0: error: unmounting /dev/.pivot_root.0qafFj: EBUSY: Device or resource busy"
    );
    let learner_panic = "
thread 'x' (1) panicked at tests/src/checks.rs:20:40:
Unexpected failure.
code=101
stderr=```
thread 'main' (9) panicked at src/main.rs:80:50:
called `Result::unwrap()` on an `Err` value: EPERM
```
";
    assert_eq!(
        checklist::first_useful_line(learner_panic),
        "your program panicked at src/main.rs:80:50: called `Result::unwrap()` on an `Err` value: EPERM"
    );
}
