//! The Notebooks screen's calls to the daemon: each [`NbCmd`] as one RPC, answered with a
//! message. A watch is a long-poll; the app asks for the next one when an answer comes.
//! Everything else runs one at a time, in the order given ([`in_order`]).

use harbour_shared::Notebook;
use tokio::sync::{mpsc, watch};

use super::app::Msg;
use super::notebooks::{NbCmd, NbMsg};
use crate::client::{Client, ClientError, Flatten as _, ctx, long_poll_ctx};

/// How long one watch waits on the daemon.
const WATCH_MS: u64 = 20_000;

fn e(e: ClientError) -> String {
    super::shell::describe(&e)
}

fn nb(name: String, r: Result<Notebook, ClientError>) -> Msg {
    Msg::Nb(NbMsg::Notebook(name, r.map(Box::new).map_err(e)))
}

/// Runs the commands that change a notebook one after another, in the order the app gave
/// them: the daemon serves a connection's calls concurrently, so the save of a cell's text
/// and the run that follows it (or two saves while typing) could otherwise arrive swapped, and
/// the kernel would run the old text.
pub async fn in_order(
    client: watch::Receiver<Option<Client>>,
    tx: mpsc::Sender<Msg>,
    mut rx: mpsc::UnboundedReceiver<NbCmd>,
) {
    while let Some(cmd) = rx.recv().await {
        let c = client.borrow().clone();
        let msg = match c {
            Some(c) => run(&c, cmd).await,
            None => Msg::Done(Err(
                "not connected to harbourd; try again once it is back".into()
            )),
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

pub async fn run(c: &Client, cmd: NbCmd) -> Msg {
    let rpc = &c.rpc;
    match cmd {
        NbCmd::List => Msg::Nb(NbMsg::List(rpc.notebooks(ctx()).await.flat().map_err(e))),
        NbCmd::Open(name) => {
            let r = rpc.notebook_get(ctx(), name.clone()).await.flat();
            nb(name, r)
        }
        NbCmd::Watch { name, version } => {
            let r = rpc
                .notebook_watch(long_poll_ctx(WATCH_MS), name.clone(), version, WATCH_MS)
                .await
                .flat();
            Msg::Nb(NbMsg::Watched(name, r.map(|o| o.map(Box::new)).map_err(e)))
        }
        NbCmd::Edit { name, edits } => {
            let r = rpc.notebook_edit(ctx(), name.clone(), edits).await.flat();
            nb(name, r)
        }
        NbCmd::Run { name, cells } => {
            let r = rpc.notebook_run(ctx(), name.clone(), cells).await.flat();
            nb(name, r)
        }
        NbCmd::Interrupt(name) => Msg::Done(
            rpc.notebook_interrupt(ctx(), name.clone())
                .await
                .flat()
                .map(|_| format!("interrupted {name}"))
                .map_err(e),
        ),
        NbCmd::Restart(name) => Msg::Done(
            rpc.notebook_restart(ctx(), name.clone())
                .await
                .flat()
                .map(|_| format!("restarting the kernel of {name}"))
                .map_err(e),
        ),
        NbCmd::Create(name) => {
            let spec = harbour_shared::NotebookSpec {
                name: name.clone(),
                cluster: None,
            };
            match rpc.notebook_create(ctx(), spec).await.flat() {
                Ok(_) => Msg::Nb(NbMsg::List(rpc.notebooks(ctx()).await.flat().map_err(e))),
                Err(err) => Msg::Done(Err(e(err))),
            }
        }
        NbCmd::Rename { from, to } => {
            let result = rpc
                .notebook_rename(ctx(), from.clone(), to.clone())
                .await
                .flat()
                .map(|_| ())
                .map_err(e);
            Msg::Nb(NbMsg::Renamed { from, to, result })
        }
        NbCmd::Delete(name) => match rpc.notebook_delete(ctx(), name).await.flat() {
            Ok(_) => Msg::Nb(NbMsg::List(rpc.notebooks(ctx()).await.flat().map_err(e))),
            Err(err) => Msg::Done(Err(e(err))),
        },
    }
}
