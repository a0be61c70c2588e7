//! The Clusters screen: `local`, managed and external Spark clusters with their state and
//! capacity (workers alive, cores used, running applications) and what is wrong with them;
//! kept current by `ClusterChanged`/`ClusterDeleted` events. `:cluster-create` makes one,
//! `ctrl-d` deletes the selected one, `enter` opens the SQL screen on it.

use harbour_shared::{Cluster, ClusterSpec, ClusterState};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use super::theme::Theme;
use super::widgets::{self, Load};

#[derive(Debug, Clone, Default)]
pub struct ClustersState {
    pub load: Load,
    pub clusters: Vec<Cluster>,
    pub selected: usize,
}

impl ClustersState {
    pub fn selected_cluster(&self) -> Option<&Cluster> {
        self.clusters.get(self.selected)
    }

    pub fn set_all(&mut self, clusters: Vec<Cluster>) {
        self.clusters = clusters;
        self.load = Load::Loaded;
        self.selected = self.selected.min(self.clusters.len().saturating_sub(1));
    }

    pub fn upsert(&mut self, cluster: Cluster) {
        match self.clusters.iter_mut().find(|c| c.name == cluster.name) {
            Some(c) => *c = cluster,
            None => self.clusters.push(cluster),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.clusters.retain(|c| c.name != name);
        self.selected = self.selected.min(self.clusters.len().saturating_sub(1));
    }

    pub fn move_by(&mut self, delta: isize) {
        let max = self.clusters.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(max);
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let title = " Clusters ".to_owned();
        let Some(inner) = widgets::list_frame(frame, area, theme, title, &self.load, "clusters")
        else {
            return;
        };
        let header = Row::new(
            [
                "NAME", "KIND", "STATE", "MASTER", "WORKERS", "CORES", "APPS", "NOTE",
            ]
            .map(|h| Cell::from(Span::styled(h, theme.get("column-header")))),
        );
        let rows = self.clusters.iter().enumerate().map(|(i, c)| {
            let state_style = match c.state {
                ClusterState::Running => theme.get("state-succeeded"),
                ClusterState::Error(_) => theme.get("status-error"),
                _ => theme.get("status-warn"),
            };
            let (workers, cores, apps, problem) = c.health.as_ref().map_or_else(
                || ("-".to_owned(), "-".to_owned(), "-".to_owned(), None),
                |h| {
                    (
                        format!(
                            "{}/{}",
                            h.workers_alive,
                            h.workers_alive + h.workers_missing
                        ),
                        format!("{}/{}", h.cores_used, h.cores),
                        h.running_apps.to_string(),
                        h.problem.clone(),
                    )
                },
            );
            let note = match &c.state {
                ClusterState::Error(why) => why.clone(),
                _ => problem.unwrap_or_else(|| c.state_message.clone()),
            };
            let row = Row::new(vec![
                Cell::from(c.name.clone()),
                Cell::from(c.kind.as_str()),
                Cell::from(Span::styled(c.state.label(), state_style)),
                Cell::from(c.master_url.clone()),
                Cell::from(workers),
                Cell::from(cores),
                Cell::from(apps),
                Cell::from(note),
            ]);
            if i == self.selected {
                row.style(theme.get("selected"))
            } else {
                row
            }
        });
        let widths = [
            Constraint::Length(12),
            Constraint::Length(18),
            Constraint::Length(11),
            Constraint::Length(24),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Min(10),
        ];
        frame.render_widget(
            Table::new(rows, widths).header(header).column_spacing(1),
            inner,
        );
    }
}

/// `NAME [WORKERS [CORES [MEMORY]]]`, as `:cluster-create` takes it.
pub fn parse_create(arg: Option<&str>) -> Result<ClusterSpec, String> {
    let usage = "cluster-create needs a name: `:cluster-create NAME [WORKERS [CORES [MEMORY]]]`";
    let mut words = arg.ok_or(usage)?.split_whitespace();
    let name = words.next().ok_or(usage)?.to_owned();
    let number = |w: Option<&str>, what: &str, default: u32| -> Result<u32, String> {
        w.map_or(Ok(default), |w| {
            w.parse()
                .map_err(|_| format!("{what} must be a number, not '{w}'"))
        })
    };
    let workers = number(words.next(), "WORKERS", 1)?;
    let cores = number(words.next(), "CORES", 1)?;
    let memory = words.next().unwrap_or("1g").to_owned();
    Ok(ClusterSpec {
        name,
        workers,
        cores,
        memory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_takes_a_name_and_optional_sizes() {
        let spec = parse_create(Some("etl 2 4 2g")).unwrap();
        assert_eq!(
            (
                spec.name.as_str(),
                spec.workers,
                spec.cores,
                spec.memory.as_str()
            ),
            ("etl", 2, 4, "2g")
        );
        let small = parse_create(Some("tiny")).unwrap();
        assert_eq!(
            (small.workers, small.cores, small.memory.as_str()),
            (1, 1, "1g")
        );
        assert!(parse_create(None).is_err());
        assert!(
            parse_create(Some("etl two"))
                .unwrap_err()
                .contains("WORKERS")
        );
    }
}
