//! `flapjack account`: add, re-password, delete and list accounts in a data directory.
//!
//! Passwords come from `--password`, `--password-file`, standard input when it is not a
//! terminal, or a prompt without echo. They are never logged or printed.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use flapjack_auth::password::Argon2Params;
use flapjack_server::credentials::make_credentials;
use flapjack_server::store::sqlite::{SqliteOptions, SqliteStore};
use flapjack_server::store::{Credentials, NewAccount, Store, StoreError, validate_screen_name};
use flapjack_wire::types::normalize_screen_name;

/// Options of `flapjack account`.
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// Directory holding the database (created if missing).
    #[arg(long, global = true, env = "FLAPJACK_DATA_DIR", default_value = "flapjack-data")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    command: AccountCommand,
}

/// Where a password comes from.
#[derive(Debug, Args, Clone)]
pub struct PasswordSource {
    /// The password (visible to other local users in the process list; prefer a file or the prompt).
    #[arg(long, conflicts_with = "password_file")]
    password: Option<String>,
    /// A file whose first line is the password.
    #[arg(long)]
    password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account (or many, with --from-file).
    Add {
        /// The screen name (omit with --from-file).
        #[arg(required_unless_present = "from_file")]
        screen_name: Option<String>,
        /// Import one screen name per line (`name` or `name:password`; `#` starts a comment).
        /// Lines without a password use the one given by --password, --password-file or the prompt.
        #[arg(long, conflicts_with = "screen_name")]
        from_file: Option<PathBuf>,
        #[command(flatten)]
        password: PasswordSource,
        /// Mark the account as a bot (user class 0x0400): it gets relaxed rate classes, still
        /// enforced (a bot may answer a crowd; see BENCHMARKS.md).
        #[arg(long)]
        bot: bool,
        /// Do not keep BUCP MD5 verifiers: the account can only log in with its cleartext
        /// password (roasted login, OpenAuth).
        #[arg(long)]
        no_md5: bool,
    },
    /// Change an account's password.
    Passwd {
        /// The screen name.
        screen_name: String,
        #[command(flatten)]
        password: PasswordSource,
        /// Do not keep BUCP MD5 verifiers.
        #[arg(long)]
        no_md5: bool,
    },
    /// Delete an account and everything it owns.
    Del {
        /// The screen name.
        screen_name: String,
    },
    /// List accounts.
    List,
    /// Set or clear an account's bot flag.
    Bot {
        /// The screen name.
        screen_name: String,
        /// Clear the flag instead of setting it.
        #[arg(long)]
        off: bool,
    },
}

/// Runs an account command.
pub fn run(args: AccountArgs) -> Result<(), String> {
    let store = open_store(&args.data_dir)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let params = Argon2Params::default();
    let result = match args.command {
        AccountCommand::Add {
            screen_name,
            from_file,
            password,
            bot,
            no_md5,
        } => match (screen_name, from_file) {
            (Some(name), _) => {
                validate_screen_name(&name)?;
                let pw = read_password(&password, &format!("Password for {name}: "), true)?;
                let credentials = hash(&pw, &params, !no_md5)?;
                rt.block_on(add(&store, name, credentials, bot))
            }
            (None, Some(file)) => import(&rt, &store, &file, &password, &params, bot, !no_md5),
            (None, None) => Err("give a screen name or --from-file".into()),
        },
        AccountCommand::Passwd {
            screen_name,
            password,
            no_md5,
        } => {
            let name = normalize_screen_name(screen_name.as_bytes());
            if rt.block_on(store.account(&name)).map_err(err)?.is_none() {
                return Err(format!("no account {screen_name:?}"));
            }
            let pw = read_password(&password, &format!("New password for {screen_name}: "), true)?;
            let credentials = hash(&pw, &params, !no_md5)?;
            rt.block_on(store.set_credentials(&name, credentials)).map_err(err)?;
            println!("password changed for {screen_name}");
            Ok(())
        }
        AccountCommand::Del { screen_name } => {
            let name = normalize_screen_name(screen_name.as_bytes());
            if rt.block_on(store.delete_account(&name)).map_err(err)? {
                println!("deleted {screen_name}");
                Ok(())
            } else {
                Err(format!("no account {screen_name:?}"))
            }
        }
        AccountCommand::List => {
            let accounts = rt.block_on(store.list_accounts()).map_err(err)?;
            println!("{:<18} {:<10} {:<4} {:<4}", "SCREEN NAME", "CREATED", "BOT", "MD5");
            for a in &accounts {
                println!(
                    "{:<18} {:<10} {:<4} {:<4}",
                    a.screen_name,
                    date(a.created_at),
                    if a.bot { "yes" } else { "no" },
                    if a.credentials.md5.is_some() { "yes" } else { "no" }
                );
            }
            println!("{} account(s)", accounts.len());
            Ok(())
        }
        AccountCommand::Bot { screen_name, off } => {
            let name = normalize_screen_name(screen_name.as_bytes());
            rt.block_on(store.set_bot(&name, !off)).map_err(err)?;
            println!("{screen_name}: bot {}", if off { "off" } else { "on" });
            Ok(())
        }
    };
    rt.block_on(store.close()).map_err(err)?;
    result
}

fn open_store(dir: &Path) -> Result<SqliteStore, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let db = dir.join("flapjack.sqlite");
    SqliteStore::open(&db, SqliteOptions::default()).map_err(|e| format!("{}: {e}", db.display()))
}

fn err(e: StoreError) -> String {
    e.to_string()
}

fn hash(password: &str, params: &Argon2Params, md5: bool) -> Result<Credentials, String> {
    if password.is_empty() {
        return Err("empty password".into());
    }
    make_credentials(password.as_bytes(), params, md5).map_err(|e| e.to_string())
}

async fn add(store: &SqliteStore, screen_name: String, credentials: Credentials, bot: bool) -> Result<(), String> {
    let account = store
        .create_account(NewAccount {
            screen_name,
            credentials,
            bot,
        })
        .await
        .map_err(err)?;
    println!("added {}{}", account.screen_name, if bot { " (bot)" } else { "" });
    Ok(())
}

fn import(
    rt: &tokio::runtime::Runtime,
    store: &SqliteStore,
    file: &Path,
    source: &PasswordSource,
    params: &Argon2Params,
    bot: bool,
    md5: bool,
) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut shared: Option<String> = None;
    let (mut added, mut failed) = (0usize, 0usize);
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, own) = match line.split_once(':') {
            Some((name, pw)) => (name.trim(), Some(pw.to_owned())),
            None => (line, None),
        };
        let outcome = validate_screen_name(name).and_then(|()| {
            let pw = match own {
                Some(pw) => pw,
                None => match &shared {
                    Some(pw) => pw.clone(),
                    None => {
                        let pw = read_password(source, "Password for the imported accounts: ", true)?;
                        shared = Some(pw.clone());
                        pw
                    }
                },
            };
            let credentials = hash(&pw, params, md5)?;
            rt.block_on(add(store, name.to_owned(), credentials, bot))
        });
        match outcome {
            Ok(()) => added += 1,
            Err(e) => {
                failed += 1;
                eprintln!("{}:{}: {e}", file.display(), n + 1);
            }
        }
    }
    println!("{added} added, {failed} failed");
    if failed > 0 {
        Err(format!("{failed} line(s) of {} failed", file.display()))
    } else {
        Ok(())
    }
}

/// The password from `--password`, `--password-file`, piped standard input, or a prompt
/// (asked twice when `confirm`).
fn read_password(source: &PasswordSource, prompt: &str, confirm: bool) -> Result<String, String> {
    if let Some(pw) = &source.password {
        return Ok(pw.clone());
    }
    if let Some(path) = &source.password_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("reading the password from standard input: {e}"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let pw = rpassword::prompt_password(prompt).map_err(|e| format!("reading the password: {e}"))?;
    if confirm {
        let again = rpassword::prompt_password("Again: ").map_err(|e| format!("reading the password: {e}"))?;
        if again != pw {
            return Err("the passwords differ".into());
        }
    }
    Ok(pw)
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
fn date(unix: i64) -> String {
    // Howard Hinnant's civil-from-days.
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::date;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_700_000_000), "2023-11-14");
    }
}
