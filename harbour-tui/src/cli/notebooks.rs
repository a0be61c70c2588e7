//! `harbour nb ...`: notebooks from the command line. Their command line is here too (clap
//! derive types), since nothing else uses it; `run` executes cells headless like
//! `jupyter nbconvert --execute` and exits non-zero on the first failing cell.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use harbour_shared::{
    Cell, CellEdit, CellKind, ExecState, KernelState, Notebook, NotebookSpec, NotebookSummary,
    Output, RunCells,
};

use super::commands::{Out, write_stdout};
use super::error::CliError;
use super::{exit, table};
use crate::client::{self, Client, Flatten, ctx, long_poll_ctx};
use crate::fmt;

pub const EXAMPLES: &str = "\
Examples:
  harbour nb create etl --cluster local
  harbour nb cell add etl --source 'spark.range(10).count()'
  harbour nb run etl
  harbour nb show etl
  harbour nb import report.ipynb --name report
  harbour nb export report -o report.ipynb

Notebooks live on the daemon: their kernels keep running when you log out, and `nb show`
(or the TUI's Notebooks screen) shows the outputs produced while you were away.";

#[derive(Debug, Clone, Subcommand)]
pub enum NbCommand {
    /// Every notebook, with its kernel's state
    List,
    /// A new notebook with one empty code cell
    Create {
        name: String,
        /// The Spark cluster `spark` binds to in its kernel (e.g. local)
        #[arg(long)]
        cluster: Option<String>,
    },
    /// The cells, their ids and outputs
    Show {
        name: String,
    },
    Rename {
        name: String,
        new_name: String,
    },
    /// Stops its kernel and removes the notebook
    Delete {
        name: String,
    },
    /// Makes a notebook from an .ipynb file
    Import {
        file: PathBuf,
        /// [default: the file name without .ipynb]
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Writes the .ipynb to stdout or a file
    Export {
        name: String,
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Runs the code cells (all, or one) and waits; exits 1 on the first error
    Run {
        name: String,
        /// Only this cell
        #[arg(long)]
        cell: Option<String>,
    },
    /// Cell edits
    #[command(subcommand)]
    Cell(CellCommand),
    /// Clears every cell's outputs
    Clear {
        name: String,
    },
    /// Interrupts the running cell (SIGINT) and cancels the queued ones
    Interrupt {
        name: String,
    },
    /// Stops the kernel and starts a fresh one
    Restart {
        name: String,
    },
    /// Stops the kernel
    Stop {
        name: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum CellCommand {
    /// Adds a cell (at the end unless --index); prints its id
    Add {
        name: String,
        #[arg(long)]
        index: Option<u32>,
        #[arg(long, default_value = "code")]
        kind: CellKind,
        /// The source; `-` reads stdin
        #[arg(long, default_value = "")]
        source: String,
    },
    /// Replaces a cell's source; `-` reads stdin
    Set {
        name: String,
        id: String,
        source: String,
    },
    Delete {
        name: String,
        id: String,
    },
    /// Moves a cell to a position (0 is the top)
    Move {
        name: String,
        id: String,
        index: u32,
    },
    /// Changes a cell to code, markdown or raw
    Type {
        name: String,
        id: String,
        kind: CellKind,
    },
}

fn read_source(source: &str) -> Result<String, CliError> {
    if source == "-" {
        Ok(std::io::read_to_string(std::io::stdin())?)
    } else {
        Ok(source.to_owned())
    }
}

pub async fn run(socket: &Path, out: &Out, command: &NbCommand) -> Result<u8, CliError> {
    let client = client::connect(socket).await?;
    let rpc = &client.rpc;
    match command {
        NbCommand::List => {
            let list = rpc.notebooks(ctx()).await.flat()?;
            out.show(&list, || render_list(&list))?;
        }
        NbCommand::Create { name, cluster } => {
            let spec = NotebookSpec {
                name: name.clone(),
                cluster: cluster.clone(),
            };
            let nb = rpc.notebook_create(ctx(), spec).await.flat()?;
            out.show(&nb, || format!("created notebook {}\n", nb.name))?;
        }
        NbCommand::Show { name } => {
            let nb = rpc.notebook_get(ctx(), name.clone()).await.flat()?;
            out.show(&nb, || render_notebook(&nb))?;
        }
        NbCommand::Rename { name, new_name } => {
            let s = rpc
                .notebook_rename(ctx(), name.clone(), new_name.clone())
                .await
                .flat()?;
            out.show(&s, || format!("renamed {name} to {}\n", s.name))?;
        }
        NbCommand::Delete { name } => {
            let s = rpc.notebook_delete(ctx(), name.clone()).await.flat()?;
            out.show(&s, || format!("deleted notebook {}\n", s.name))?;
        }
        NbCommand::Import {
            file,
            name,
            cluster,
        } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
            let name = match name {
                Some(n) => n.clone(),
                None => file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            };
            let nb = rpc
                .notebook_import(ctx(), name, text, cluster.clone())
                .await
                .flat()?;
            out.show(&nb, || {
                format!("imported notebook {} ({} cells)\n", nb.name, nb.cells.len())
            })?;
        }
        NbCommand::Export { name, output } => {
            let text = rpc.notebook_export(ctx(), name.clone()).await.flat()?;
            match output {
                Some(path) => std::fs::write(path, text)?,
                None => write_stdout(text.as_bytes())?,
            }
        }
        NbCommand::Run { name, cell } => return run_cells(&client, out, name, cell).await,
        NbCommand::Cell(c) => return cell(&client, out, c).await,
        NbCommand::Clear { name } => {
            let nb = edit(&client, name, CellEdit::ClearOutputs { id: None }).await?;
            out.show(&nb, || format!("cleared the outputs of {name}\n"))?;
        }
        NbCommand::Interrupt { name } => {
            let k = rpc.notebook_interrupt(ctx(), name.clone()).await.flat()?;
            out.show(&k, || format!("interrupted; kernel {}\n", k.state.label()))?;
        }
        NbCommand::Restart { name } => {
            let k = rpc.notebook_restart(ctx(), name.clone()).await.flat()?;
            out.show(&k, || format!("kernel {}\n", k.state.label()))?;
        }
        NbCommand::Stop { name } => {
            let k = rpc.notebook_shutdown(ctx(), name.clone()).await.flat()?;
            out.show(&k, || format!("kernel {}\n", k.state.label()))?;
        }
    }
    Ok(exit::OK)
}

async fn edit(client: &Client, name: &str, edit: CellEdit) -> Result<Notebook, CliError> {
    Ok(client
        .rpc
        .notebook_edit(ctx(), name.to_owned(), vec![edit])
        .await
        .flat()?)
}

async fn cell(client: &Client, out: &Out, command: &CellCommand) -> Result<u8, CliError> {
    match command {
        CellCommand::Add {
            name,
            index,
            kind,
            source,
        } => {
            let before = client.rpc.notebook_get(ctx(), name.clone()).await.flat()?;
            let known: HashSet<&str> = before.cells.iter().map(|c| c.id.as_str()).collect();
            let index = index.unwrap_or(u32::try_from(before.cells.len()).unwrap_or(u32::MAX));
            let edit_ = CellEdit::Insert {
                index,
                kind: *kind,
                source: read_source(source)?,
            };
            let nb = edit(client, name, edit_).await?;
            let added = nb
                .cells
                .iter()
                .find(|c| !known.contains(c.id.as_str()))
                .map(|c| c.id.clone())
                .unwrap_or_default();
            out.show(&serde_json::json!({ "id": added }), || format!("{added}\n"))?;
        }
        CellCommand::Set { name, id, source } => {
            let e = CellEdit::SetSource {
                id: id.clone(),
                source: read_source(source)?,
            };
            let nb = edit(client, name, e).await?;
            out.show(&nb, String::new)?;
        }
        CellCommand::Delete { name, id } => {
            let nb = edit(client, name, CellEdit::Delete { id: id.clone() }).await?;
            out.show(&nb, String::new)?;
        }
        CellCommand::Move { name, id, index } => {
            let e = CellEdit::Move {
                id: id.clone(),
                index: *index,
            };
            let nb = edit(client, name, e).await?;
            out.show(&nb, String::new)?;
        }
        CellCommand::Type { name, id, kind } => {
            let e = CellEdit::SetKind {
                id: id.clone(),
                kind: *kind,
            };
            let nb = edit(client, name, e).await?;
            out.show(&nb, String::new)?;
        }
    }
    Ok(exit::OK)
}

/// Queues the cells and follows the notebook until they are done, printing each cell's
/// outputs as it finishes.
async fn run_cells(
    client: &Client,
    out: &Out,
    name: &str,
    cell: &Option<String>,
) -> Result<u8, CliError> {
    let which = cell.clone().map_or(RunCells::All, RunCells::One);
    let mut nb = client
        .rpc
        .notebook_run(ctx(), name.to_owned(), which)
        .await
        .flat()?;
    let ours: Vec<String> = nb
        .cells
        .iter()
        .filter(|c| c.state == Some(ExecState::Queued))
        .map(|c| c.id.clone())
        .collect();
    let mut printed = HashSet::new();
    loop {
        let mut pending = false;
        for c in nb.cells.iter().filter(|c| ours.contains(&c.id)) {
            match c.state {
                Some(ExecState::Done | ExecState::Error | ExecState::Cancelled) | None => {
                    if !out.json && printed.insert(c.id.clone()) {
                        write_stdout(render_cell(c).as_bytes())?;
                    }
                }
                Some(ExecState::Queued | ExecState::Running) => pending = true,
            }
        }
        if !pending {
            break;
        }
        if let KernelState::Dead { why } = &nb.kernel.state {
            eprintln!("harbour: the kernel died: {why}");
            break;
        }
        const WAIT_MS: u64 = 30_000;
        if let Some(next) = client
            .rpc
            .notebook_watch(long_poll_ctx(WAIT_MS), name.to_owned(), nb.version, WAIT_MS)
            .await
            .flat()?
        {
            nb = next;
        }
    }
    if out.json {
        out.json(&nb)?;
    }
    let failed = nb
        .cells
        .iter()
        .filter(|c| ours.contains(&c.id))
        .find(|c| c.state != Some(ExecState::Done));
    match failed {
        Some(c) => {
            eprintln!(
                "harbour: cell {} did not finish: {}",
                c.id,
                c.state
                    .map_or("kernel gone".into(), |s| format!("{s:?}").to_lowercase())
            );
            Ok(exit::FAILURE)
        }
        None => Ok(exit::OK),
    }
}

pub fn render_list(list: &[NotebookSummary]) -> String {
    if list.is_empty() {
        return "no notebooks; `harbour nb create NAME` makes one\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.cells.to_string(),
                n.kernel.label().to_owned(),
                fmt::or_dash(n.cluster.as_ref()),
                fmt::local_time(n.modified_ms),
            ]
        })
        .collect();
    table::render(&["NAME", "CELLS", "KERNEL", "CLUSTER", "MODIFIED"], &rows)
}

/// Text of one output, as the CLI and the TUI show it.
pub fn output_text(o: &Output) -> String {
    match o {
        Output::Stream { text, .. } => text.clone(),
        Output::Data { text, .. } => {
            let mut t = text.clone();
            if !t.ends_with('\n') {
                t.push('\n');
            }
            t
        }
        Output::Error {
            ename,
            evalue,
            traceback,
        } => {
            if traceback.is_empty() {
                format!("{ename}: {evalue}\n")
            } else {
                let mut t = traceback.join("\n");
                t.push('\n');
                t
            }
        }
    }
}

fn render_cell(c: &Cell) -> String {
    let count = c
        .execution_count
        .map_or_else(|| " ".into(), |n| n.to_string());
    let state = c
        .state
        .map(|s| format!(" {s:?}").to_lowercase())
        .unwrap_or_default();
    let mut text = format!("--- [{count}] {} {}{state}\n", c.kind.as_str(), c.id);
    text.push_str(&c.source);
    if !c.source.ends_with('\n') {
        text.push('\n');
    }
    if !c.outputs.is_empty() {
        text.push_str("--- out\n");
        for o in &c.outputs {
            text.push_str(&output_text(o));
        }
    }
    text
}

pub fn render_notebook(nb: &Notebook) -> String {
    let mut text = format!(
        "{}: {} cells, kernel {}{}\n",
        nb.name,
        nb.cells.len(),
        nb.kernel.state.label(),
        nb.cluster
            .as_ref()
            .map(|c| format!(", cluster {c}"))
            .unwrap_or_default()
    );
    if let KernelState::Dead { why } = &nb.kernel.state {
        text.push_str(&format!("kernel died: {why}\n"));
    }
    if let Some(m) = &nb.kernel.message {
        text.push_str(&format!("note: {m}\n"));
    }
    for c in &nb.cells {
        text.push_str(&render_cell(c));
    }
    text
}
