//! The id argument of a command, checked as the IPC layer reads it.

use ensemble_core::IdArg;
use tauri::ipc::{CommandArg, CommandItem, InvokeError};
use tauri::Runtime;

use crate::error::AppError;

/// An id argument (`id`, `crewId`, `runId`…): refused while the command
/// reads its arguments when it is blank or too long, with the core's
/// validation error (`VALIDATION` or `TOO_LARGE`, naming the argument) —
/// the answer the command line gives for the same id.
#[derive(Debug, Clone)]
pub struct Id(IdArg);

impl<'de, R: Runtime> CommandArg<'de, R> for Id {
    fn from_command(command: CommandItem<'de, R>) -> Result<Self, InvokeError> {
        let field = snake_case(command.key);
        let raw = <String as CommandArg<'de, R>>::from_command(command)?;
        IdArg::parse(&field, raw)
            .map(Id)
            .map_err(|e| AppError::from(e).into())
    }
}

impl std::ops::Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<Id> for String {
    fn from(id: Id) -> Self {
        id.0.into_string()
    }
}

/// `crewId` → `crew_id`: the argument as the core names its fields.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn argument_keys_become_field_names() {
        assert_eq!(super::snake_case("crewId"), "crew_id");
        assert_eq!(super::snake_case("id"), "id");
    }
}
