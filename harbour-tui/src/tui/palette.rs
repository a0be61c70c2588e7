//! The `:` command palette: commands with aliases, Tab completion, and arguments where a
//! command needs one (`:logs 42`, `:kill 42`, `:filter etl`).

use harbour_shared::RunId;

use super::action::{Action, Screen};

/// What a palette line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaletteCmd {
    Go(Screen),
    Action(Action),
    Logs(Option<RunId>),
    Details(RunId),
    Kill(RunId),
    Restart(RunId),
    Filter(String),
    CreateCluster(harbour_shared::ClusterSpec),
    DeleteCluster(String),
    /// The Spark screen, at an application when one is named.
    Spark(Option<String>),
    // --- Notebooks ---
    CreateNotebook(String),
    /// `nb-rename [OLD] NEW`.
    RenameNotebook {
        from: Option<String>,
        to: String,
    },
    Nothing,
}

/// Each command: its name, aliases, and a few words of help.
pub const COMMANDS: [(&str, &[&str], &str); 22] = [
    ("dashboard", &["dash", "d", "home", "1"], "the dashboard"),
    ("runs", &["run", "r", "2"], "the runs table"),
    ("jobs", &["job", "j", "3"], "the job definitions"),
    ("logs", &["log", "l", "4"], "logs [RUN]: a run's logs"),
    ("sql", &["query", "5"], "the SQL console"),
    ("clusters", &["cluster", "c", "6"], "the Spark clusters"),
    // --- Ingestion ---
    (
        "ingest",
        &["in", "ingestions", "0"],
        "ingestions: files into tables",
    ),
    (
        "cluster-create",
        &["cc"],
        "cluster-create NAME [WORKERS [CORES [MEMORY]]]: start a managed cluster",
    ),
    (
        "cluster-delete",
        &["cd"],
        "cluster-delete NAME: stop and forget a cluster",
    ),
    (
        "monitor",
        &["mon", "m", "metrics", "health", "containers", "docker", "7"],
        "host charts, services, containers",
    ),
    (
        "describe",
        &["details", "desc", "show"],
        "describe RUN: a run's details",
    ),
    ("submit", &["new", "s"], "submit a new run"),
    ("kill", &["k"], "kill RUN"),
    ("restart", &["rerun"], "restart RUN"),
    (
        "filter",
        &["f", "grep"],
        "filter TEXT: filter runs (! inverts)",
    ),
    ("refresh", &["reload"], "fetch everything again"),
    // --- Notebooks ---
    (
        "notebooks",
        &["nb", "notebook", "ipynb", "8"],
        "notebooks and their kernels",
    ),
    ("nb-create", &["nbc"], "nb-create NAME: a new notebook"),
    (
        "nb-rename",
        &["nbr"],
        "nb-rename [OLD] NEW: rename a notebook (the open or selected one)",
    ),
    (
        "spark",
        &["apps", "spark-apps", "analytics", "9"],
        "spark [APP]: Spark applications from event logs",
    ),
    ("help", &["?", "h"], "keys of this screen"),
    ("quit", &["q", "q!", "exit", "qa"], "leave harbour-tui"),
];

fn canonical(word: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(name, aliases, _)| *name == word || aliases.contains(&word))
        .map(|(name, _, _)| *name)
}

/// Commands whose name or alias starts with `prefix`, by name.
pub fn candidates(prefix: &str) -> Vec<(&'static str, &'static str)> {
    let word = prefix.split_whitespace().next().unwrap_or("");
    COMMANDS
        .iter()
        .filter(|(name, aliases, _)| {
            name.starts_with(word) || aliases.iter().any(|a| a.starts_with(word))
        })
        .map(|(name, _, help)| (*name, *help))
        .collect()
}

/// Tab: completes the command word to the first candidate.
pub fn complete(line: &str) -> String {
    if line.contains(' ') {
        return line.to_owned();
    }
    match candidates(line).first() {
        Some((name, _)) => format!("{name} "),
        None => line.to_owned(),
    }
}

fn run_arg(cmd: &str, arg: Option<&str>) -> Result<RunId, String> {
    let arg = arg.ok_or_else(|| format!("{cmd} needs a run id, like `:{cmd} 42`"))?;
    arg.parse::<RunId>().map_err(|e| e.to_string())
}

pub fn parse(line: &str) -> Result<PaletteCmd, String> {
    let line = line.trim();
    let mut words = line.splitn(2, char::is_whitespace);
    let Some(word) = words.next().filter(|w| !w.is_empty()) else {
        return Ok(PaletteCmd::Nothing);
    };
    let arg = words.next().map(str::trim).filter(|a| !a.is_empty());
    let cmd = canonical(word)
        .ok_or_else(|| format!("'{word}' is not a command; Tab completes, :help lists keys"))?;
    Ok(match cmd {
        "dashboard" => PaletteCmd::Go(Screen::Dashboard),
        "runs" => PaletteCmd::Go(Screen::Runs),
        "jobs" => PaletteCmd::Go(Screen::Jobs),
        "sql" => PaletteCmd::Go(Screen::Sql),
        "clusters" => PaletteCmd::Go(Screen::Clusters),
        "cluster-create" => PaletteCmd::CreateCluster(super::clusters::parse_create(arg)?),
        "cluster-delete" => PaletteCmd::DeleteCluster(
            arg.ok_or("cluster-delete needs a name, like `:cluster-delete etl`")?
                .to_owned(),
        ),
        "monitor" => PaletteCmd::Go(Screen::Monitor),
        "spark" => PaletteCmd::Spark(arg.map(str::to_owned)),
        "ingest" => PaletteCmd::Go(Screen::Ingest),
        "logs" => PaletteCmd::Logs(arg.map(|a| run_arg("logs", Some(a))).transpose()?),
        "describe" => PaletteCmd::Details(run_arg("describe", arg)?),
        "submit" => PaletteCmd::Action(Action::Submit),
        "kill" => PaletteCmd::Kill(run_arg("kill", arg)?),
        "restart" => PaletteCmd::Restart(run_arg("restart", arg)?),
        "filter" => PaletteCmd::Filter(arg.unwrap_or("").to_owned()),
        "refresh" => PaletteCmd::Action(Action::Refresh),
        "notebooks" => PaletteCmd::Go(Screen::Notebooks),
        "nb-create" => PaletteCmd::CreateNotebook(
            arg.ok_or("nb-create needs a name, like `:nb-create etl`")?
                .to_owned(),
        ),
        "nb-rename" => {
            let usage =
                "nb-rename needs a new name, like `:nb-rename etl-2` or `:nb-rename etl etl-2`";
            let words: Vec<&str> = arg.ok_or(usage)?.split_whitespace().collect();
            match words[..] {
                [to] => PaletteCmd::RenameNotebook {
                    from: None,
                    to: to.to_owned(),
                },
                [from, to] => PaletteCmd::RenameNotebook {
                    from: Some(from.to_owned()),
                    to: to.to_owned(),
                },
                _ => return Err(usage.to_owned()),
            }
        }
        "help" => PaletteCmd::Action(Action::Help),
        _ => PaletteCmd::Action(Action::Quit),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_args() {
        assert_eq!(parse("q").unwrap(), PaletteCmd::Action(Action::Quit));
        assert_eq!(parse("dash").unwrap(), PaletteCmd::Go(Screen::Dashboard));
        assert_eq!(parse("logs 42").unwrap(), PaletteCmd::Logs(Some(RunId(42))));
        assert_eq!(parse("logs").unwrap(), PaletteCmd::Logs(None));
        assert_eq!(
            parse("filter !etl").unwrap(),
            PaletteCmd::Filter("!etl".into())
        );
        assert!(parse("kill").unwrap_err().contains("run id"));
        assert!(parse("launch").unwrap_err().contains("not a command"));
        assert_eq!(parse("  ").unwrap(), PaletteCmd::Nothing);
        assert_eq!(
            parse("nbr etl etl-2").unwrap(),
            PaletteCmd::RenameNotebook {
                from: Some("etl".into()),
                to: "etl-2".into()
            }
        );
        assert_eq!(
            parse("nb-rename etl-2").unwrap(),
            PaletteCmd::RenameNotebook {
                from: None,
                to: "etl-2".into()
            }
        );
        assert!(parse("nb-rename").unwrap_err().contains("new name"));
        assert!(parse("nb-rename a b c").unwrap_err().contains("new name"));
    }

    #[test]
    fn completion() {
        assert_eq!(complete("jo"), "jobs ");
        assert_eq!(complete("desc"), "describe ");
        assert_eq!(complete("logs 4"), "logs 4");
        assert_eq!(
            candidates("re").iter().map(|c| c.0).collect::<Vec<_>>(),
            ["restart", "refresh"]
        );
    }
}
