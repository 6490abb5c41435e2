//! Shared helpers for the core's integration tests: a core on a temporary
//! data folder and a fingerprint of the whole database.

#![allow(dead_code)]

use ensemble_core::agents::AgentInput;
use ensemble_core::Core;

pub struct TestCore {
    pub core: Core,
    pub dir: tempfile::TempDir,
}

impl std::ops::Deref for TestCore {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

pub fn core() -> TestCore {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Core::open(dir.path()).expect("open core");
    TestCore { core, dir }
}

pub fn agent(core: &Core, name: &str, caps: &[&str]) -> String {
    core.agents()
        .create(AgentInput {
            name: Some(name.to_string()),
            capabilities: Some(caps.iter().map(|c| c.to_string()).collect()),
            ..Default::default()
        })
        .expect("create agent")
        .id
}

/// Every row of every table, as text: equal fingerprints mean nothing changed.
pub fn fingerprint(core: &Core) -> String {
    core.read(|c| {
        let tables: Vec<String> = {
            let mut stmt =
                c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = String::new();
        for t in tables {
            let mut stmt = c.prepare(&format!("SELECT * FROM \"{t}\" ORDER BY rowid"))?;
            let n = stmt.column_count();
            let mut rows = stmt.query([])?;
            out.push_str(&format!("## {t}\n"));
            while let Some(r) = rows.next()? {
                for i in 0..n {
                    let v: rusqlite::types::Value = r.get(i)?;
                    out.push_str(&format!("{v:?}|"));
                }
                out.push('\n');
            }
        }
        Ok(out)
    })
    .expect("fingerprint")
}
