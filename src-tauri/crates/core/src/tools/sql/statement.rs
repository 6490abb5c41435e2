//! The statement check of `sql_query`: the SQL text is tokenized the way
//! SQLite does (comments skipped, literals and quoted names opaque) and
//! refused, with a clear reason, when it writes, changes the schema or the
//! connection, holds several statements, or sets a PRAGMA. The first of the
//! tool's layers; a read-only connection and SQLite's own verdict follow.

use super::super::ToolError;
use super::NAME;

/// Statement words that write, change the schema or the connection. Refused
/// wherever they appear outside literals (a CTE can end in a DELETE).
const WRITE_WORDS: &[&str] = &[
    "DROP", "DELETE", "UPDATE", "INSERT", "CREATE", "ALTER", "ATTACH", "DETACH", "VACUUM",
    "REINDEX", "TRUNCATE",
];

/// Statements that may start a query.
const READ_STARTS: &[&str] = &["SELECT", "WITH", "VALUES", "EXPLAIN", "PRAGMA"];

/// PRAGMAs that only describe the schema or the file; their argument, if
/// any, is a name or a limit, never a new setting.
const READ_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "database_list",
    "collation_list",
    "function_list",
    "module_list",
    "pragma_list",
    "compile_options",
    "integrity_check",
    "quick_check",
];

pub(super) fn refused(why: impl std::fmt::Display) -> ToolError {
    ToolError::Refused(format!("refused: {why}; sql_query is read-only"))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A bare word (keyword, identifier or number), upper-cased.
    Word(String),
    /// A string literal or a quoted identifier: never a keyword.
    Quoted,
    Punct(char),
}

/// Splits SQL into tokens, skipping comments and treating literals and
/// quoted identifiers as opaque, the way SQLite's tokenizer does.
fn tokenize(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if matches!(c, '\'' | '"' | '`' | '[') {
            let close = if c == '[' { ']' } else { c };
            i += 1;
            loop {
                match chars.get(i) {
                    None => break,
                    // A doubled quote is an escaped quote (not for [..]).
                    Some(&q) if q == close && close != ']' && chars.get(i + 1) == Some(&close) => {
                        i += 2
                    }
                    Some(&q) if q == close => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            out.push(Token::Quoted);
        } else if c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric()
                    || chars[i] == '_'
                    || chars[i] == '$'
                    || !chars[i].is_ascii())
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(Token::Word(word.to_uppercase()));
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// The statement-kind check: exactly one statement, and one that reads.
/// SQLite's read-only connection and `sqlite3_stmt_readonly` back it up; this
/// layer exists to refuse early with a message that says what was wrong.
pub fn check_statement(sql: &str) -> Result<(), ToolError> {
    let tokens = tokenize(sql);
    let mut statements = tokens
        .split(|t| *t == Token::Punct(';'))
        .filter(|s| !s.is_empty());
    let Some(stmt) = statements.next() else {
        return Err(ToolError::InvalidArguments {
            tool: NAME.into(),
            detail: "the query is empty".into(),
        });
    };
    if statements.next().is_some() {
        return Err(refused("only one statement per call is allowed"));
    }
    let words: Vec<&str> = stmt
        .iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(w.as_str()),
            _ => None,
        })
        .collect();
    for (i, t) in stmt.iter().enumerate() {
        let Token::Word(w) = t else { continue };
        if WRITE_WORDS.contains(&w.as_str()) {
            return Err(refused(format!("{w} statements are not allowed")));
        }
        // replace(x, y, z) is a string function; REPLACE INTO and INSERT OR
        // REPLACE write.
        if w == "REPLACE" && stmt.get(i + 1) != Some(&Token::Punct('(')) {
            return Err(refused("REPLACE statements are not allowed"));
        }
        if w == "LOAD_EXTENSION" {
            return Err(refused("load_extension is not allowed"));
        }
    }
    let first = match stmt.first() {
        Some(Token::Word(w)) => w.as_str(),
        _ => {
            return Err(refused(
                "the query must start with SELECT, WITH, VALUES, EXPLAIN or PRAGMA",
            ))
        }
    };
    if !READ_STARTS.contains(&first) {
        return Err(refused(format!(
            "{first} statements are not allowed (only SELECT, WITH, VALUES, EXPLAIN or a schema PRAGMA)"
        )));
    }
    if first == "EXPLAIN" {
        // EXPLAIN [QUERY PLAN] <statement>: judge the statement it explains.
        let rest = words
            .iter()
            .skip(1)
            .find(|w| !matches!(**w, "QUERY" | "PLAN"));
        if let Some(w) = rest.filter(|w| !READ_STARTS.contains(*w) || **w == "PRAGMA") {
            return Err(refused(format!("EXPLAIN {w} is not allowed")));
        }
    }
    if first == "PRAGMA" {
        check_pragma(stmt)?;
    }
    Ok(())
}

/// `PRAGMA [schema.]name [(arg)]` with a name from [`READ_PRAGMAS`]; any
/// `=` sets a value and is refused.
fn check_pragma(stmt: &[Token]) -> Result<(), ToolError> {
    let mut rest = &stmt[1..];
    if let [Token::Word(_) | Token::Quoted, Token::Punct('.'), tail @ ..] = rest {
        rest = tail;
    }
    let name = match rest.first() {
        Some(Token::Word(w)) => w.to_lowercase(),
        _ => return Err(refused("a PRAGMA needs a name")),
    };
    if stmt.contains(&Token::Punct('=')) || !READ_PRAGMAS.contains(&name.as_str()) {
        return Err(refused(format!(
            "PRAGMA {name} is not allowed here (readable PRAGMAs: {})",
            READ_PRAGMAS.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tokenizer_skips_literals_and_comments() {
        assert_eq!(
            tokenize("a 'b''c' \"d\" [e] `f` -- g\n/* h */ i;"),
            vec![
                Token::Word("A".into()),
                Token::Quoted,
                Token::Quoted,
                Token::Quoted,
                Token::Quoted,
                Token::Word("I".into()),
                Token::Punct(';'),
            ]
        );
    }
}
