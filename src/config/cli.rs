//! The command line: `--config`, and one flag per declared setting, each also read from its
//! `TOLLGATE_*` variable. Clap resolves flag and variable (a flag beats its variable); the
//! flags are built from the setting table at run time, so a declared setting has its flag.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches, Parser};

use super::declare::Setting;
use super::{invalid, settings, Config, ConfigError};

/// Printed after the options by `--help`.
const AFTER_HELP: &str = "\
Every option is also read from the TOLLGATE_* variable shown beside it; a flag beats its \
variable, and both beat the --config file, which beats the built-in defaults.

Logs go to stderr, coloured only when stderr is a terminal. TOLLGATE_LOG takes a tracing \
filter (e.g. \"debug\" or \"info,tollgate::server=trace\") that replaces log.level \
(--loglevel) at start-up; a CONFIG SET loglevel to another level replaces it at run time.";

/// Command line of `tollgate`. All settings are optional so that only what was given
/// overrides the file.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "A Redis-protocol server for rate limiting",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// TOML config file; without it tollgate runs on the embedded defaults.
    #[arg(long, env = "TOLLGATE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Check a running server instead of starting one: GET /health on 127.0.0.1 at
    /// metrics_port (from the same flags, variables and file), exit 0 on 200, else 1. For
    /// container health checks: the image needs no curl.
    #[arg(long, env = "TOLLGATE_CHECK_HEALTH")]
    pub check_health: bool,
    /// The settings given as flags or variables.
    #[command(flatten)]
    pub settings: SettingArgs,
}

/// Settings given on the command line or in the environment: (setting, text) in declaration
/// order, the text already checked by clap against the setting's type.
#[derive(Debug, Clone, Default)]
pub struct SettingArgs {
    given: Vec<(&'static Setting, String)>,
}

/// The flag of one setting.
fn arg_for(s: &'static Setting) -> Arg {
    let check = s.flag_check;
    Arg::new(s.flag())
        .long(s.flag())
        .env(s.env())
        // Values of variables are not echoed by --help: requirepass is a secret, and --help
        // output ends up in bug reports.
        .hide_env_values(true)
        .value_name(s.value_name)
        .help(s.help())
        .help_heading(format!("[{}]", s.section))
        .action(ArgAction::Set)
        .value_parser(move |v: &str| check(v).map(|()| v.to_string()))
}

impl Args for SettingArgs {
    fn augment_args(cmd: Command) -> Command {
        settings().fold(cmd, |cmd, s| cmd.arg(arg_for(s)))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for SettingArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = SettingArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for s in settings() {
            let value = matches
                .try_get_one::<String>(&s.flag())
                .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))?;
            if let Some(value) = value {
                self.given.retain(|(g, _)| !std::ptr::eq(*g, s));
                self.given.push((s, value.clone()));
            }
        }
        Ok(())
    }
}

impl Cli {
    /// Writes every given setting over `cfg`.
    pub fn apply_to(&self, cfg: &mut Config) -> Result<(), ConfigError> {
        for (s, value) in &self.settings.given {
            (s.flag_set)(cfg, value).map_err(|message| invalid(s.path(), message))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, ByteSize, LogLevel, MaxmemoryPolicy};

    fn cli(args: &[&str]) -> Cli {
        let mut argv = vec!["tollgate"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap()
    }

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "tollgate-config-test-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn no_arguments_gives_the_defaults() {
        // Guard against a TOLLGATE_* variable in the test environment changing the answer.
        if std::env::vars().any(|(k, _)| k.starts_with("TOLLGATE_")) {
            return;
        }
        assert_eq!(load(&cli(&[])).unwrap(), Config::default());
    }

    #[test]
    fn precedence_default_file_flag() {
        let path = temp_file(
            "precedence",
            "[server]\nport = 7000\nmaxclients = 50\n[store]\nmaxmemory = \"100mb\"\n",
        );
        let p = path.to_str().unwrap();
        let from_file = load(&cli(&["--config", p])).unwrap();
        assert_eq!(from_file.server.port, 7000);
        assert_eq!(from_file.server.maxclients, 50);
        assert_eq!(from_file.store.maxmemory, ByteSize(100 * 1024 * 1024));
        assert_eq!(
            from_file.server.databases, 16,
            "untouched keys keep their default"
        );

        let flagged = load(&cli(&[
            "--config",
            p,
            "--port",
            "7001",
            "--maxmemory",
            "1gb",
            "--protected-mode",
            "no",
            "--maxmemory-policy",
            "ALLKEYS-LRU",
            "--loglevel",
            "warning",
        ]))
        .unwrap();
        assert_eq!(flagged.server.port, 7001);
        assert_eq!(flagged.server.maxclients, 50, "the file still applies");
        assert_eq!(flagged.store.maxmemory, ByteSize::gib(1));
        assert!(!flagged.server.protected_mode);
        assert_eq!(flagged.store.maxmemory_policy, MaxmemoryPolicy::AllkeysLru);
        assert_eq!(flagged.log.level, LogLevel::Warn);
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn flags_are_validated_like_the_file() {
        let err = load(&cli(&["--shards", "3"])).unwrap_err();
        assert!(err.to_string().contains("server.shards"), "{err}");
        assert!(Cli::try_parse_from(["tollgate", "--protected-mode", "maybe"]).is_err());
        assert!(Cli::try_parse_from(["tollgate", "--maxmemory", "lots"]).is_err());
        assert!(Cli::try_parse_from(["tollgate", "--port", "65536"]).is_err());
    }

    #[test]
    fn missing_or_broken_file_is_reported() {
        let err = load(&cli(&["--config", "/nonexistent/tollgate.toml"])).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        let path = temp_file("broken", "[server\nport = 1");
        let err = load(&cli(&["--config", path.to_str().unwrap()])).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn every_option_declares_its_tollgate_env_var() {
        use clap::CommandFactory;
        for arg in Cli::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let want = format!("TOLLGATE_{}", long.to_uppercase().replace('-', "_"));
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(want.as_str()),
                "--{long}"
            );
        }
    }

    #[test]
    fn env_applies_and_the_flag_wins() {
        use clap::{CommandFactory, FromArgMatches};
        // The real variable names are shared by the whole test process, so point the argument
        // at a name no other test reads; clap's env handling is the same for every name.
        const VAR: &str = "TOLLGATE_TEST_ONLY_TCP_KEEPALIVE";
        std::env::set_var(VAR, "42");
        let parse = |args: &[&str]| {
            let cmd = Cli::command().mut_arg("tcp-keepalive", |a| a.env(VAR));
            let matches = cmd.try_get_matches_from(args).unwrap();
            Cli::from_arg_matches(&matches).unwrap()
        };
        let from_env = parse(&["tollgate"]);
        let from_flag = parse(&["tollgate", "--tcp-keepalive", "7"]);
        std::env::remove_var(VAR);
        assert_eq!(load(&from_env).unwrap().server.tcp_keepalive, 42);
        assert_eq!(load(&from_flag).unwrap().server.tcp_keepalive, 7);
    }

    #[test]
    fn every_setting_has_its_flag_and_variable() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        for s in settings() {
            let flag = s.flag();
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(flag.as_str()))
                .unwrap_or_else(|| panic!("{} has no --{flag}", s.path()));
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(s.env().as_str())
            );
        }
    }

    #[test]
    fn help_shows_where_each_setting_lives() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("TOLLGATE_LOG takes a tracing filter"),
            "{help}"
        );
        assert!(help.contains("--tcp-keepalive <N>"), "{help}");
        assert!(
            help.contains("[server.tcp_keepalive; CONFIG tcp-keepalive"),
            "{help}"
        );
    }
}
