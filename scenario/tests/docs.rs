//! Every ```scenario block of docs/SCENARIOS.md must load (parse and validate), so the
//! reference cannot drift from the parser.

use std::path::Path;

fn blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut cur {
            None if line.trim_start() == "```scenario" => cur = Some((i + 2, String::new())),
            None => {}
            Some(_) if line.trim_start() == "```" => out.push(cur.take().unwrap()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(cur.is_none(), "unterminated ```scenario block");
    out
}

#[test]
fn every_example_in_the_reference_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/SCENARIOS.md");
    let text = std::fs::read_to_string(&path).expect("docs/SCENARIOS.md");
    let blocks = blocks(&text);
    assert!(
        blocks.len() >= 8,
        "expected the reference's examples, found {}",
        blocks.len()
    );
    let mut failures = String::new();
    for (line, body) in &blocks {
        let name = format!("SCENARIOS.md@{line}");
        if let Err(errs) = lwpvm_scenario::load(&name, body) {
            failures.push_str(&format!(
                "example starting at docs/SCENARIOS.md:{line}:\n{errs}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
