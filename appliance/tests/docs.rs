//! The user's reference in `docs/` stays true to the code: `docs/CLI.md` is clap's help for
//! every subcommand, `docs/openapi.json` is the document served at `/api/v1/openapi.json`, and
//! `docs/CONFIG.md` describes every key the config parser knows.
//!
//! A generated file that differs fails the test; `UPDATE_DOCS=1 cargo test -p appliance --test
//! docs` rewrites it.

use std::path::PathBuf;

use appliance::cli::Cli;
use appliance::config::{NOT_BUILT, SECTIONS, Shape};
use clap::CommandFactory;

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

/// Compares `docs/NAME` with `text`, or rewrites it when `UPDATE_DOCS` is set.
fn generated(name: &str, text: &str) {
    let path = docs().join(name);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "docs/{name} is out of date: run `UPDATE_DOCS=1 cargo test -p appliance --test docs` \
         and commit it"
    );
}

/// The help as a user sees it, minus what depends on the environment: the values of the
/// environment variables options fall back to, and the terminal's width.
fn stable(cmd: clap::Command) -> clap::Command {
    cmd.term_width(100)
        .mut_args(|a| a.hide_env_values(true))
        .mut_subcommands(stable)
}

fn section(out: &mut String, path: &str, cmd: &mut clap::Command) {
    let help = cmd.render_long_help().to_string();
    out.push_str(&format!(
        "\n## `{path}`\n\n```text\n{}\n```\n",
        help.trim_end()
    ));
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .filter(|n| n != "help")
        .collect();
    for name in names {
        let sub = cmd.find_subcommand_mut(&name).expect("listed");
        section(out, &format!("{path} {name}"), sub);
    }
}

#[test]
fn cli_md_is_clap_help() {
    let mut cmd = stable(Cli::command());
    cmd.build();
    let mut out = String::from(
        "# The `offhook` command line\n\n\
         Every subcommand's `--help`, generated from the code (`appliance/src/cli/`) by\n\
         `cargo test -p appliance --test docs`; `UPDATE_DOCS=1` rewrites this file.\n\
         The global options `--data-dir` and `--config` go before or after any subcommand.\n\
         Exit status: 0 on success; otherwise non-zero, with a one-line cause on stderr.\n",
    );
    section(&mut out, "offhook", &mut cmd);
    generated("CLI.md", &out);
}

#[test]
fn openapi_json_is_the_served_document() {
    let doc = offhook_web::openapi::document();
    let text = serde_json::to_string_pretty(&doc).expect("json") + "\n";
    generated("openapi.json", &text);
}

#[test]
fn config_md_describes_every_key() {
    let text = std::fs::read_to_string(docs().join("CONFIG.md")).expect("docs/CONFIG.md");
    let mut missing = Vec::new();
    for (section, shape) in SECTIONS {
        let keys = match shape {
            Shape::Table(k) | Shape::Array(k) => k,
        };
        let heading = match shape {
            Shape::Table(_) => format!("## `[{section}]`"),
            Shape::Array(_) => format!("## `[[{section}]]`"),
        };
        if !text.contains(&heading) {
            missing.push(heading);
        }
        for key in *keys {
            let row = format!("| `{section}.{key}` |");
            if !text.contains(&row) {
                missing.push(row);
            }
        }
    }
    for section in NOT_BUILT {
        if !text.contains(&format!("`[{section}]`")) {
            missing.push(format!("`[{section}]`"));
        }
    }
    assert!(missing.is_empty(), "docs/CONFIG.md lacks {missing:#?}");
}

#[test]
fn config_md_defaults_and_example_are_the_parsers() {
    let text = std::fs::read_to_string(docs().join("CONFIG.md")).expect("docs/CONFIG.md");
    let defaults: toml::Table = toml::from_str(appliance::config::DEFAULTS).expect("defaults");
    for (section, keys) in &defaults {
        for (key, value) in keys.as_table().expect("a table") {
            let row = format!("| `{section}.{key}` | `{value}` |");
            assert!(text.contains(&row), "docs/CONFIG.md lacks {row}");
        }
    }
    let example = text
        .split("```toml\n")
        .nth(1)
        .and_then(|t| t.split("```").next())
        .expect("an example");
    appliance::config::Config::parse("docs/CONFIG.md example", example).expect("it parses");
}
