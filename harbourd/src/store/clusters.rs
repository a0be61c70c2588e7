//! Cluster rows (managed and external; `local` is built in and never stored) and the SQL
//! tables registered for Spark Connect sessions. Specs, states and process ids are JSON
//! columns: only harbourd reads them.

use harbour_shared::{ClusterKind, ClusterSpec, ClusterState, Table, TableSpec};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::StoreResult;

/// The ports a managed cluster was given, kept so it comes back on the same ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ports {
    pub master: u16,
    pub master_ui: u16,
    pub connect: u16,
}

/// A process harbourd started for a cluster: its process group and kernel start time, so a
/// later daemon can tell it from a stranger that reused the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proc {
    pub pgid: u32,
    pub start_ticks: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRow {
    pub name: String,
    pub kind: ClusterKind,
    pub spec: Option<ClusterSpec>,
    pub master_url: String,
    pub connect_url: Option<String>,
    pub state: ClusterState,
    pub state_message: String,
    pub ports: Option<Ports>,
    pub procs: Vec<Proc>,
    pub created_ms: i64,
}

fn kind_to_sql(kind: ClusterKind) -> &'static str {
    kind.as_str()
}

fn kind_from_sql(s: &str) -> ClusterKind {
    match s {
        "standalone-managed" => ClusterKind::Managed,
        "local" => ClusterKind::Local,
        _ => ClusterKind::External,
    }
}

const COLUMNS: &str =
    "name, kind, spec, master_url, connect_url, state, state_message, ports, pids, created_ms";

fn from_row(row: &Row<'_>) -> StoreResult<ClusterRow> {
    let json = |idx: usize| -> rusqlite::Result<Option<String>> { row.get(idx) };
    Ok(ClusterRow {
        name: row.get(0)?,
        kind: kind_from_sql(&row.get::<_, String>(1)?),
        spec: json(2)?.map(|s| serde_json::from_str(&s)).transpose()?,
        master_url: row.get(3)?,
        connect_url: row.get(4)?,
        state: serde_json::from_str(&row.get::<_, String>(5)?)?,
        state_message: row.get(6)?,
        ports: json(7)?.map(|s| serde_json::from_str(&s)).transpose()?,
        procs: json(8)?
            .map(|s| serde_json::from_str(&s))
            .transpose()?
            .unwrap_or_default(),
        created_ms: row.get(9)?,
    })
}

/// Inserts or replaces the whole row.
pub fn save(conn: &Connection, row: &ClusterRow, now_ms: i64) -> StoreResult<()> {
    conn.execute(
        &format!(
            "INSERT INTO clusters ({COLUMNS}, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
             ?9, ?10, ?11) ON CONFLICT(name) DO UPDATE SET kind = ?2, spec = ?3, master_url = ?4, \
             connect_url = ?5, state = ?6, state_message = ?7, ports = ?8, pids = ?9, \
             updated_ms = ?11"
        ),
        params![
            row.name,
            kind_to_sql(row.kind),
            row.spec.as_ref().map(serde_json::to_string).transpose()?,
            row.master_url,
            row.connect_url,
            serde_json::to_string(&row.state)?,
            row.state_message,
            row.ports.as_ref().map(serde_json::to_string).transpose()?,
            serde_json::to_string(&row.procs)?,
            row.created_ms,
            now_ms,
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, name: &str) -> StoreResult<Option<ClusterRow>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM clusters WHERE name = ?1"))?;
    let row = stmt.query_row([name], |row| Ok(from_row(row))).optional()?;
    row.transpose()
}

pub fn list(conn: &Connection) -> StoreResult<Vec<ClusterRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM clusters ORDER BY name"))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(from_row(row)?);
    }
    Ok(out)
}

pub fn delete(conn: &Connection, name: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM clusters WHERE name = ?1", [name])? > 0)
}

pub fn save_table(conn: &Connection, spec: &TableSpec, now_ms: i64) -> StoreResult<Table> {
    conn.execute(
        "INSERT INTO sql_tables (name, spec, created_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT(name) DO UPDATE SET spec = ?2",
        params![spec.name, serde_json::to_string(spec)?, now_ms],
    )?;
    Ok(get_table(conn, &spec.name)?.unwrap_or(Table {
        spec: spec.clone(),
        created_ms: now_ms,
    }))
}

pub fn get_table(conn: &Connection, name: &str) -> StoreResult<Option<Table>> {
    let found: Option<(String, i64)> = conn
        .query_row(
            "SELECT spec, created_ms FROM sql_tables WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    found
        .map(|(spec, created_ms)| {
            Ok(Table {
                spec: serde_json::from_str(&spec)?,
                created_ms,
            })
        })
        .transpose()
}

pub fn list_tables(conn: &Connection) -> StoreResult<Vec<Table>> {
    let mut stmt = conn.prepare_cached("SELECT spec, created_ms FROM sql_tables ORDER BY name")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(Table {
            spec: serde_json::from_str(&row.get::<_, String>(0)?)?,
            created_ms: row.get(1)?,
        });
    }
    Ok(out)
}

pub fn delete_table(conn: &Connection, name: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM sql_tables WHERE name = ?1", [name])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::TableFormat;

    fn conn() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate(&mut conn).unwrap();
        conn
    }

    #[test]
    fn clusters_round_trip_and_update_in_place() {
        let conn = conn();
        let mut row = ClusterRow {
            name: "c1".into(),
            kind: ClusterKind::Managed,
            spec: Some(ClusterSpec {
                name: "c1".into(),
                workers: 1,
                cores: 1,
                memory: "512m".into(),
            }),
            master_url: "spark://127.0.0.1:7077".into(),
            connect_url: None,
            state: ClusterState::Pending,
            state_message: "starting".into(),
            ports: Some(Ports {
                master: 7077,
                master_ui: 8080,
                connect: 15002,
            }),
            procs: vec![Proc {
                pgid: 42,
                start_ticks: Some(7),
            }],
            created_ms: 1,
        };
        save(&conn, &row, 1).unwrap();
        row.state = ClusterState::Error("master died".into());
        save(&conn, &row, 2).unwrap();
        assert_eq!(get(&conn, "c1").unwrap(), Some(row.clone()));
        assert_eq!(list(&conn).unwrap(), vec![row]);
        assert!(delete(&conn, "c1").unwrap());
        assert!(get(&conn, "c1").unwrap().is_none());
    }

    #[test]
    fn tables_round_trip() {
        let conn = conn();
        let spec = TableSpec {
            name: "sales".into(),
            format: TableFormat::Parquet,
            location: "/data/sales".into(),
            options: vec![],
        };
        let table = save_table(&conn, &spec, 5).unwrap();
        assert_eq!(table.spec, spec);
        assert_eq!(list_tables(&conn).unwrap().len(), 1);
        assert!(delete_table(&conn, "sales").unwrap());
        assert!(get_table(&conn, "sales").unwrap().is_none());
    }
}
