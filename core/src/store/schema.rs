//! Schemas and migrations: the embedded `core/schema/*.sql` files and
//! [`Db::migrate`].
//!
//! Each back end has a schema file (every table at its current version) and
//! a migrations file (the steps from older versions), embedded in the
//! binary. A schema file is a list of sections `-- @table NAME VERSION`,
//! each creating one table with its indexes and inserting its row into
//! `version`; a migrations file is a list of sections
//! `-- @upgrade NAME FROM TO`, each changing one table and updating its
//! row. The `version` table (Kamailio's: `table_name`, `table_version`)
//! records where each table is.
//!
//! `migrate` creates the tables that are missing (so an empty database, or
//! a new SQLite file, needs no setup), upgrades older ones step by step,
//! and refuses a table whose version is newer than this ser knows (for
//! instance a Kamailio-made table: Kamailio's version numbers are higher
//! and its column types differ) or that exists without a `version` row.
//! Each table's creation or step runs in its own transaction (MySQL
//! commits schema statements by itself, so there it is not atomic).

use super::db::Db;
use super::sql;
use super::url::Backend;
use super::value::{Cell, DbError};

const SQLITE: &str = include_str!("../../schema/sqlite.sql");
const POSTGRES: &str = include_str!("../../schema/postgres.sql");
const MYSQL: &str = include_str!("../../schema/mysql.sql");
const SQLITE_UP: &str = include_str!("../../schema/migrations/sqlite.sql");
const POSTGRES_UP: &str = include_str!("../../schema/migrations/postgres.sql");
const MYSQL_UP: &str = include_str!("../../schema/migrations/mysql.sql");

/// The schema file of a back end (every table at its current version).
pub fn schema_file(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
        Backend::Mysql => MYSQL,
    }
}

/// The migrations file of a back end.
pub fn migrations_file(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => SQLITE_UP,
        Backend::Postgres => POSTGRES_UP,
        Backend::Mysql => MYSQL_UP,
    }
}

/// One section of a schema or migrations file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub table: &'static str,
    /// The version upgraded from (`None` in a schema file).
    pub from: Option<u32>,
    /// The version created or upgraded to.
    pub to: u32,
    /// The statements, as written.
    pub sql: &'static str,
}

/// Splits an embedded file into its sections (text before the first marker
/// is the file's header). `upgrade` selects the marker kind.
pub fn sections(text: &'static str, upgrade: bool) -> Result<Vec<Section>, String> {
    let marker = if upgrade {
        "-- @upgrade "
    } else {
        "-- @table "
    };
    let mut out: Vec<Section> = Vec::new();
    let mut current: Option<(&'static str, Option<u32>, u32, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let Some(spec) = line.trim_end().strip_prefix(marker) else {
            continue;
        };
        if let Some((table, from, to, body)) = current.take() {
            out.push(Section {
                table,
                from,
                to,
                sql: text.get(body..start).unwrap_or(""),
            });
        }
        let words: Vec<&'static str> = spec.split_whitespace().collect();
        let num = |w: Option<&&str>| w.and_then(|w| w.parse::<u32>().ok());
        let (table, from, to) = match (upgrade, words.as_slice()) {
            (false, [t, _]) => (*t, None, num(words.get(1))),
            (true, [t, _, _]) => (*t, num(words.get(1)), num(words.get(2))),
            _ => return Err(format!("bad section marker: {}", line.trim_end())),
        };
        let to = to.ok_or_else(|| format!("bad version in: {}", line.trim_end()))?;
        if upgrade && from.is_none_or(|f| f + 1 != to) {
            return Err(format!(
                "an upgrade goes up by one version: {}",
                line.trim_end()
            ));
        }
        current = Some((table, from, to, offset));
    }
    if let Some((table, from, to, body)) = current {
        out.push(Section {
            table,
            from,
            to,
            sql: text.get(body..).unwrap_or(""),
        });
    }
    Ok(out)
}

/// Every table of a back end with its current version, `version` first.
pub fn current_versions(b: Backend) -> Result<Vec<(&'static str, u32)>, DbError> {
    Ok(sections(schema_file(b), false)
        .map_err(DbError::Schema)?
        .iter()
        .map(|s| (s.table, s.to))
        .collect())
}

/// What [`Db::migrate`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrateReport {
    /// Tables created.
    pub created: Vec<String>,
    /// Tables upgraded: name, from, to.
    pub upgraded: Vec<(String, u32, u32)>,
}

impl MigrateReport {
    /// True when nothing had to be done.
    pub fn is_noop(&self) -> bool {
        self.created.is_empty() && self.upgraded.is_empty()
    }
}

/// True when table `name` exists in the connection's database (schema).
pub fn table_exists(db: &mut Db, name: &str) -> Result<bool, DbError> {
    let q = match db.backend() {
        Backend::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
        Backend::Postgres => {
            "SELECT 1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = ?"
        }
        Backend::Mysql => {
            "SELECT 1 FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = ?"
        }
    };
    Ok(db.query_row(q, &[Cell::from(name)])?.is_some())
}

/// The version recorded for table `name`, if any.
pub fn table_version(db: &mut Db, name: &str) -> Result<Option<u32>, DbError> {
    let row = db.query_row(
        "SELECT table_version FROM version WHERE table_name = ?",
        &[Cell::from(name)],
    )?;
    match row.as_ref().and_then(|r| r.first()) {
        None => Ok(None),
        Some(c) => c
            .as_i64()
            .and_then(|v| u32::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| {
                DbError::Schema(format!("version of table {name} is not a number: {c:?}"))
            }),
    }
}

/// Runs the statements of one section.
fn run_section(db: &mut Db, s: &Section) -> Result<(), DbError> {
    match db.backend() {
        // One round trip; the server splits.
        Backend::Sqlite | Backend::Postgres => db.batch(s.sql),
        Backend::Mysql => {
            for stmt in sql::split_statements(s.sql) {
                db.exec(&stmt, &[])?;
            }
            Ok(())
        }
    }
}

impl Db {
    /// Creates missing tables and upgrades old ones (see the module
    /// documentation). Running it again does nothing.
    pub fn migrate(&mut self) -> Result<MigrateReport, DbError> {
        let b = self.backend();
        let tables = sections(schema_file(b), false).map_err(DbError::Schema)?;
        let steps = sections(migrations_file(b), true).map_err(DbError::Schema)?;
        let mut report = MigrateReport::default();
        for t in &tables {
            self.transaction(|db| migrate_table(db, t, &steps, &mut report))?;
        }
        Ok(report)
    }
}

/// Brings one table to its current version (inside a transaction).
fn migrate_table(
    db: &mut Db,
    t: &Section,
    steps: &[Section],
    report: &mut MigrateReport,
) -> Result<(), DbError> {
    let url = db.url().to_string();
    if !table_exists(db, t.table)? {
        if t.table != "version" {
            // A row left behind by a dropped table would say it is there.
            db.exec(
                "DELETE FROM version WHERE table_name = ?",
                &[Cell::from(t.table)],
            )?;
        }
        run_section(db, t)?;
        report.created.push(t.table.to_string());
        return Ok(());
    }
    let Some(mut v) = table_version(db, t.table)? else {
        if t.table == "version" {
            // Some tools make the table without a row for itself.
            db.exec(
                "INSERT INTO version (table_name, table_version) VALUES (?, ?)",
                &[Cell::from("version"), Cell::from(t.to)],
            )?;
            return Ok(());
        }
        return Err(DbError::Schema(format!(
            "{url}: table {} exists but has no row in table version; \
             check it matches core/schema/{}.sql and insert ('{}', {}) into version",
            t.table,
            db.backend(),
            t.table,
            t.to
        )));
    };
    if v > t.to {
        return Err(DbError::Schema(format!(
            "{url}: table {} is at version {v}, this ser knows up to version {} \
             (a newer ser's or a Kamailio schema? see docs/store.md)",
            t.table, t.to
        )));
    }
    let from = v;
    while v < t.to {
        let Some(step) = steps
            .iter()
            .find(|s| s.table == t.table && s.from == Some(v))
        else {
            return Err(DbError::Schema(format!(
                "{url}: table {} is at version {v} and there is no upgrade from it",
                t.table
            )));
        };
        run_section(db, step)?;
        v = step.to;
    }
    if from < t.to {
        report.upgraded.push((t.table.to_string(), from, t.to));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

    /// Column names of each `CREATE TABLE` in a section, in order.
    fn columns(sql_text: &str) -> Vec<String> {
        let Some(start) = sql_text.find('(') else {
            return vec![];
        };
        let body = &sql_text[start + 1..];
        let body = &body[..body.rfind(')').unwrap_or(body.len())];
        body.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("CONSTRAINT") && !l.starts_with(')'))
            .filter_map(|l| l.split_whitespace().next())
            .map(|w| w.trim_matches(|c| c == '"' || c == '`').to_string())
            .collect()
    }

    #[test]
    fn store_schema_files_agree() {
        let base = sections(schema_file(Backend::Sqlite), false).unwrap();
        let names: Vec<_> = base.iter().map(|s| (s.table, s.to)).collect();
        assert_eq!(
            names,
            vec![
                ("version", 1),
                ("subscriber", 1),
                ("location", 2),
                ("aliases", 2),
                ("domain", 2),
                ("trusted", 1),
                ("address", 1),
                ("usr_preferences", 1),
                ("acc", 1),
                ("missed_calls", 1),
                ("credentials", 1),
                ("uri", 1),
                ("user_attrs", 1),
                ("uri_attrs", 1),
                ("domain_attrs", 1),
                ("global_attrs", 1),
            ]
        );
        for b in ALL {
            let secs = sections(schema_file(b), false).unwrap();
            assert_eq!(secs.len(), base.len(), "{b}");
            for (s, s0) in secs.iter().zip(&base) {
                assert_eq!((s.table, s.to), (s0.table, s0.to), "{b}");
                assert_eq!(columns(s.sql), columns(s0.sql), "{b} {}", s.table);
                let row = format!(
                    "INSERT INTO version (table_name, table_version) VALUES ('{}', {});",
                    s.table, s.to
                );
                assert!(s.sql.contains(&row), "{b} {}: missing {row}", s.table);
                assert!(!sql::split_statements(s.sql).is_empty());
            }
        }
    }

    #[test]
    fn store_migrations_chain_to_current() {
        for b in ALL {
            let current = current_versions(b).unwrap();
            let steps = sections(migrations_file(b), true).unwrap();
            for s in &steps {
                let cur = current.iter().find(|(t, _)| *t == s.table).map(|(_, v)| *v);
                assert!(
                    cur.is_some_and(|c| s.to <= c),
                    "{b}: step {s:?} past the current version"
                );
                let set = format!(
                    "UPDATE version SET table_version = {} WHERE table_name = '{}';",
                    s.to, s.table
                );
                assert!(s.sql.contains(&set), "{b} {}: missing {set}", s.table);
            }
            // Every table above version 1 can be reached from version 1.
            for (t, v) in current {
                for from in 1..v {
                    assert!(
                        steps.iter().any(|s| s.table == t && s.from == Some(from)),
                        "{b}: no upgrade of {t} from {from}"
                    );
                }
            }
            let sq = sections(migrations_file(Backend::Sqlite), true).unwrap();
            let mine: Vec<_> = steps.iter().map(|s| (s.table, s.from, s.to)).collect();
            let base: Vec<_> = sq.iter().map(|s| (s.table, s.from, s.to)).collect();
            assert_eq!(mine, base, "{b}");
        }
    }

    #[test]
    fn store_section_markers_checked() {
        assert!(sections("-- @table x\nSELECT 1;\n", false).is_err());
        assert!(sections("-- @upgrade x 1 3\nSELECT 1;\n", true).is_err());
        let s = sections("head\n-- @upgrade x 1 2\nA;\n-- @upgrade x 2 3\nB;\n", true).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].sql, "A;\n");
        assert_eq!((s[1].from, s[1].to, s[1].sql), (Some(2), 3, "B;\n"));
    }

    #[test]
    fn store_sqlite_migrates_a_new_file() {
        let dir = std::env::temp_dir().join(format!("ser-store-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url = super::super::DbUrl::parse(&format!("sqlite://{}/sub/dir/ser.db", dir.display()))
            .unwrap();
        let mut db = Db::open(&url).unwrap();
        let r = db.migrate().unwrap();
        assert_eq!(r.created.len(), 16, "{r:?}");
        assert!(db.migrate().unwrap().is_noop());
        assert_eq!(table_version(&mut db, "location").unwrap(), Some(2));
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
