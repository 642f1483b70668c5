//! The `flapjack serve` config file: TOML whose keys are the long flag names.
//!
//! ```toml
//! # flapjack.toml
//! oscar = "0.0.0.0:5190"
//! http = "0.0.0.0:8080"
//! advertise = "aim.example.net"
//! legacy-logins = "tls-only"
//! dev-key = ["key1", "key2"]     # repeatable flags take arrays
//! persist-profiles = true        # switches take booleans
//! idle-timeout = 900
//! ```
//!
//! The file is `--config FILE` (`$FLAPJACK_CONFIG`), else `<data-dir>/flapjack.toml` when it
//! exists. Precedence for every setting: flag, then `FLAPJACK_*` variable, then the file, then
//! the default. Keys are kebab-case like the flags (`snake_case` spellings are accepted too);
//! an unknown key is an error, so a typo is not silently ignored. Relative paths in the file
//! (`data-dir`, `tls-cert`, `tls-key`) are taken relative to the file's directory.
//!
//! How: the keys not already given by a flag or variable ([`ArgMatches::value_source`]) become
//! `--key=value` arguments, appended to the flags actually given, and clap parses the lot
//! again. Every flag added to [`ServeArgs`] is a config key without further code.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, ValueHint};

use super::ServeArgs;

/// The config file looked for in the data directory.
pub const DATA_DIR_FILE: &str = "flapjack.toml";

/// Flags that cannot be set from the file.
const NOT_KEYS: [&str; 3] = ["config", "help", "version"];

/// Applies the config file, if any, under the flags and environment variables that `matches`
/// (the `serve` subcommand's) recorded; returns the final options.
pub fn resolve(args: ServeArgs, matches: &ArgMatches) -> Result<ServeArgs, String> {
    let (path, explicit) = match &args.config {
        Some(p) => (p.clone(), true),
        None => {
            let p = args.data_dir.join(DATA_DIR_FILE);
            if !p.is_file() {
                return Ok(args);
            }
            (p, false)
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("config file {}: {e}", path.display()))?;
    let mut command = ServeArgs::augment_args(clap::Command::new("serve"));
    command.build();
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let from_file = file_arguments(&command, matches, &text, &base, explicit)
        .map_err(|e| format!("config file {}: {e}", path.display()))?;
    tracing::info!(config = %path.display(), "config file read");
    if from_file.is_empty() {
        return Ok(args);
    }
    let mut argv: Vec<OsString> = vec!["serve".into()];
    argv.extend(command_line_arguments(&command, matches));
    argv.extend(from_file);
    let merged = command.try_get_matches_from(argv).map_err(|e| {
        // The first paragraph of clap's message: what is wrong, without usage and tips.
        let text = e.render().to_string();
        let what = text.split("\n\n").next().unwrap_or_default().trim();
        format!(
            "with config file {}: {}",
            path.display(),
            what.trim_start_matches("error: ")
        )
    })?;
    ServeArgs::from_arg_matches(&merged).map_err(|e| e.to_string())
}

/// The arguments given on the command line, as `--long=value` (or `--long` for switches).
fn command_line_arguments(command: &clap::Command, matches: &ArgMatches) -> Vec<OsString> {
    let mut out = Vec::new();
    for arg in command.get_arguments() {
        let (id, Some(long)) = (arg.get_id().as_str(), arg.get_long()) else {
            continue;
        };
        if matches.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        if !arg.get_action().takes_values() {
            out.push(format!("--{long}").into());
            continue;
        }
        for raw in matches.get_raw(id).into_iter().flatten() {
            let mut a = OsString::from(format!("--{long}="));
            a.push(raw);
            out.push(a);
        }
    }
    out
}

/// The file's settings that no flag or variable overrides, as `--long=value` arguments.
fn file_arguments(
    command: &clap::Command,
    matches: &ArgMatches,
    text: &str,
    base: &Path,
    explicit: bool,
) -> Result<Vec<OsString>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && !NOT_KEYS.contains(&a.get_id().as_str()))
            .ok_or_else(|| format!("unknown key `{key}` (the keys are the long flags of `flapjack serve`)"))?;
        if !seen.insert(long.clone()) {
            return Err(format!("`{key}` is given twice"));
        }
        if long == "data-dir" && !explicit {
            return Err(format!(
                "`data-dir` cannot be set in <data-dir>/{DATA_DIR_FILE}; use --config FILE or --data-dir"
            ));
        }
        let id = arg.get_id().as_str();
        if matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        out.extend(arguments_for(arg, &long, value, base).map_err(|e| format!("`{key}`: {e}"))?);
    }
    Ok(out)
}

/// One key's value as arguments.
fn arguments_for(arg: &Arg, long: &str, value: &toml::Value, base: &Path) -> Result<Vec<OsString>, String> {
    if !arg.get_action().takes_values() {
        return match value {
            toml::Value::Boolean(true) => Ok(vec![format!("--{long}").into()]),
            toml::Value::Boolean(false) => Ok(Vec::new()),
            _ => Err("expected true or false".into()),
        };
    }
    let items: Vec<&toml::Value> = match value {
        toml::Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => items.iter().collect(),
        toml::Value::Array(_) => return Err("takes one value, not an array".into()),
        v => vec![v],
    };
    let is_path = matches!(
        arg.get_value_hint(),
        ValueHint::AnyPath | ValueHint::FilePath | ValueHint::DirPath
    );
    items
        .into_iter()
        .map(|item| {
            let text = match item {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err("expected a string, a number or a boolean".to_owned()),
            };
            let mut a = OsString::from(format!("--{long}="));
            if is_path && Path::new(&text).is_relative() {
                a.push(base.join(&text));
            } else {
                a.push(text);
            }
            Ok(a)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(argv: &[&str]) -> ArgMatches {
        ServeArgs::augment_args(clap::Command::new("serve"))
            .try_get_matches_from(std::iter::once("serve").chain(argv.iter().copied()))
            .unwrap()
    }

    fn file_args(argv: &[&str], text: &str) -> Result<Vec<String>, String> {
        let mut command = ServeArgs::augment_args(clap::Command::new("serve"));
        command.build();
        let out = file_arguments(&command, &matches(argv), text, Path::new("/etc/fj"), true)?;
        Ok(out.into_iter().map(|a| a.to_string_lossy().into_owned()).collect())
    }

    #[test]
    fn keys_become_flags_unless_given() {
        let text = "oscar = \"127.0.0.1:6000\"\nidle_timeout = 30\ndev-key = [\"a\", \"b\"]\n\
                    persist-profiles = true\nno-rate-limits = false\ntls-cert = \"c.pem\"\n\
                    tls-key = \"/abs/k.pem\"\nlegacy-logins = \"tls-only\"\n";
        let got = file_args(&["--idle-timeout", "5"], text).unwrap();
        assert_eq!(
            got,
            [
                "--dev-key=a",
                "--dev-key=b",
                "--legacy-logins=tls-only",
                "--oscar=127.0.0.1:6000",
                "--persist-profiles",
                "--tls-cert=/etc/fj/c.pem",
                "--tls-key=/abs/k.pem",
            ]
        );
    }

    #[test]
    fn bad_files_are_errors() {
        for (text, want) in [
            ("osacr = \"x\"", "unknown key `osacr`"),
            ("config = \"x\"", "unknown key `config`"),
            ("oscar = [\"a\", \"b\"]", "takes one value"),
            ("persist-profiles = \"yes\"", "expected true or false"),
            ("idle-timeout = 1\nidle_timeout = 2", "given twice"),
            ("motd = { a = 1 }", "expected a string"),
            ("oscar = ", "oscar"),
        ] {
            let e = file_args(&[], text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn merged_parse_keeps_flags_over_the_file() {
        let dir = std::env::temp_dir().join(format!("flapjack-serve-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("server.toml");
        std::fs::write(
            &path,
            "oscar = \"127.0.0.1:6000\"\nhttp = \"127.0.0.1:6001\"\nmotd = \"hi\"\n",
        )
        .unwrap();
        let m = matches(&["--config", path.to_str().unwrap(), "--oscar", "127.0.0.1:7000"]);
        let args = resolve(ServeArgs::from_arg_matches(&m).unwrap(), &m).unwrap();
        assert_eq!(args.oscar.port(), 7000);
        assert_eq!(args.http.map(|a| a.port()), Some(6001));
        assert_eq!(args.motd.as_deref(), Some("hi"));
        assert_eq!(args.config.as_deref(), Some(path.as_path()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
