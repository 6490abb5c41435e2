//! Grammars (llama.cpp's GBNF, start rule `root`) that keep a base model's
//! program or query to what can run: a one-line Python expression over
//! literals and builtins, or a simple SELECT over the tables the question
//! names, with values the question gives. What they let through is still
//! checked by the tool that runs it.

use crate::tools::sql::TableSchema;

/// One Python expression (the argument of the `print(` the prompt ends
/// with), then `)` and the end of the line. Names are builtins, string
/// methods and one-letter variables (a comprehension's): measured on the
/// default 270M model, a program frame without it wrote `len(word)` for
/// "How many letters does the word 'encyclopedia' have?" and
/// `warehouseA + warehouseB` for numbers read from a page; with it those
/// become literals the task gives.
pub const PYTHON: &str = r#"root ::= expr ")\n"
expr ::= term (sp binop sp term)*
term ::= ("-" | "not ")? atom trailer*
atom ::= number | string | var | "(" expr ")" | "[" listbody? "]" | call
call ::= fname "(" (expr ("," sp expr)*)? ")"
listbody ::= expr ("," sp expr)* | expr " for " var " in " expr (" if " expr)?
trailer ::= "." method "(" (expr ("," sp expr)*)? ")" | "[" expr? (":" expr?)? (":" expr?)? "]"
binop ::= "+" | "-" | "*" | "/" | "//" | "%" | "**" | "==" | "!=" | "<" | ">" | "<=" | ">=" | "and" | "or" | "in" | "not in"
var ::= [a-z]
fname ::= "len" | "sum" | "range" | "sorted" | "min" | "max" | "abs" | "round" | "int" | "float" | "str" | "list" | "reversed" | "set" | "pow" | "divmod" | "bin" | "hex" | "chr" | "ord" | "all" | "any" | "bool"
method ::= "upper" | "lower" | "title" | "capitalize" | "count" | "split" | "join" | "replace" | "strip" | "startswith" | "endswith" | "find" | "index" | "isdigit" | "zfill"
number ::= [0-9]+ ("." [0-9]+)?
string ::= "'" [^'\n]* "'" | "\"" [^"\n]* "\""
sp ::= " "?
"#;

/// A SELECT after the prompt's `SELECT`: columns (or `count(*)`, `*`),
/// one table, at most one condition and an order with `LIMIT`.
///
/// The tables are those whose name (or, failing that, a column other than
/// `id`/`name`) the question mentions, all of them when it mentions none —
/// on the competence suite's look-ups the default 270M model picked the
/// wrong one of three tables in 3 of 6 without this and in none with it. A
/// condition compares with a value the question gives (a quoted text, a
/// capitalised word inside a sentence, a number); without such a value the
/// query has no `WHERE` (the model otherwise added `WHERE name = 'product'`
/// to "How many products are there?").
pub fn sql(tables: &[TableSchema], question: &str) -> String {
    let linked = linked_tables(tables, question);
    let mut columns: Vec<&str> = linked
        .iter()
        .flat_map(|t| t.columns.iter().map(String::as_str))
        .collect();
    columns.sort_unstable();
    columns.dedup();
    let values = values(question);
    let mut g = String::from("root ::= \" \" cols \" FROM \" table");
    if !values.is_empty() {
        g.push_str(" where?");
    }
    g.push_str(" order? \"\\n\"\n");
    g.push_str("cols ::= \"count(*)\" | \"*\" | col (\", \" col)*\n");
    g.push_str(&format!(
        "table ::= {}\n",
        alternatives(linked.iter().map(|t| quote_ident(&t.name)))
    ));
    g.push_str(&format!(
        "col ::= {}\n",
        alternatives(columns.iter().map(|c| quote_ident(c)))
    ));
    if !values.is_empty() {
        g.push_str("where ::= \" WHERE \" col (\" = \" | \" > \" | \" < \") value\n");
        g.push_str(&format!(
            "value ::= {}\n",
            alternatives(values.iter().map(|v| gbnf_literal(v)))
        ));
    }
    g.push_str("order ::= \" ORDER BY \" col (\" ASC\" | \" DESC\") \" LIMIT \" [1-9] [0-9]?\n");
    g
}

fn alternatives(items: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = items.collect();
    if all.is_empty() {
        // A rule needs one alternative; this one cannot be written.
        return "\"\\u0001\"".into();
    }
    all.join(" | ")
}

/// An identifier as SQL text inside a GBNF literal: plain when it is a
/// simple name, else double-quoted for SQL.
fn quote_ident(name: &str) -> String {
    let simple = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if simple {
        gbnf_literal(name)
    } else {
        gbnf_literal(&format!("\"{}\"", name.replace('"', "\"\"")))
    }
}

/// `text` as a GBNF string literal.
fn gbnf_literal(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Texts in quotes ('…' or "…"): a quote opens after a space, a bracket or
/// the start, and closes before a space, punctuation or the end, so the
/// apostrophe of "client's" is not one.
pub fn quoted_texts(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let q = chars[i];
        let opens = (q == '\'' || q == '"')
            && (i == 0 || !chars[i - 1].is_alphanumeric())
            && chars.get(i + 1).is_some_and(|c| !c.is_whitespace());
        if opens {
            let close = (i + 1..chars.len())
                .find(|&j| chars[j] == q && chars.get(j + 1).is_none_or(|c| !c.is_alphanumeric()));
            if let Some(j) = close {
                let inner: String = chars[i + 1..j].iter().collect();
                if !inner.trim().is_empty() {
                    out.push(inner);
                }
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// A word without a plural `s`, lower case.
fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    match w.strip_suffix("ies") {
        Some(base) if !base.is_empty() => format!("{base}y"),
        _ => match w.strip_suffix('s') {
            Some(base) if base.len() > 1 && !base.ends_with('s') => base.to_string(),
            _ => w,
        },
    }
}

/// The tables the question is about (see [`sql`]).
pub fn linked_tables<'a>(tables: &'a [TableSchema], question: &str) -> Vec<&'a TableSchema> {
    let words: Vec<String> = question
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(stem)
        .collect();
    let mentions = |name: &str| {
        let s = stem(name);
        words.contains(&s)
    };
    let by_name: Vec<&TableSchema> = tables.iter().filter(|t| mentions(&t.name)).collect();
    if !by_name.is_empty() {
        return by_name;
    }
    let by_column: Vec<&TableSchema> = tables
        .iter()
        .filter(|t| {
            t.columns
                .iter()
                .any(|c| !matches!(c.as_str(), "id" | "name") && mentions(c))
        })
        .collect();
    if !by_column.is_empty() {
        return by_column;
    }
    tables.iter().collect()
}

/// Values a condition may compare with, as SQL literals: quoted texts,
/// capitalised words (and runs of them) that do not open a sentence, and
/// numbers.
pub fn values(question: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |v: String| {
        if !out.contains(&v) {
            out.push(v);
        }
    };
    for quoted in quoted_texts(question) {
        if quoted.chars().count() <= 80 {
            push(format!("'{}'", quoted.replace('\'', "''")));
        }
    }
    let mut sentence_start = true;
    let mut run: Vec<&str> = Vec::new();
    let words: Vec<&str> = question.split_whitespace().collect();
    for raw in &words {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let capital = word.chars().next().is_some_and(char::is_uppercase)
            && word
                .chars()
                .all(|c| c.is_alphabetic() || c == '\'' || c == '-');
        if capital && !sentence_start {
            run.push(word);
        } else if !run.is_empty() {
            push(format!("'{}'", run.join(" ").replace('\'', "''")));
            run.clear();
        }
        if word.chars().next().is_some_and(|c| c.is_ascii_digit())
            && word.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            push(word.to_string());
        }
        sentence_start = raw.ends_with(['.', '?', '!', ':']);
        if sentence_start && !run.is_empty() {
            push(format!("'{}'", run.join(" ").replace('\'', "''")));
            run.clear();
        }
    }
    if !run.is_empty() {
        push(format!("'{}'", run.join(" ").replace('\'', "''")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Vec<TableSchema> {
        let t = |name: &str, cols: &[&str]| TableSchema {
            name: name.into(),
            columns: cols.iter().map(|c| c.to_string()).collect(),
        };
        vec![
            t("products", &["id", "name", "price"]),
            t("customers", &["id", "name", "city"]),
            t("categories", &["id", "label"]),
        ]
    }

    #[test]
    fn a_question_is_linked_to_the_tables_it_names_or_whose_columns_it_names() {
        let tables = shop();
        let names = |q: &str| {
            linked_tables(&tables, q)
                .iter()
                .map(|t| t.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("How many products are there?"), ["products"]);
        assert_eq!(names("Where does the customer Linus live?"), ["customers"]);
        assert_eq!(names("Which category is first?"), ["categories"]);
        assert_eq!(names("What is the price of the Desk?"), ["products"]);
        assert_eq!(names("What is in there?").len(), 3);
    }

    #[test]
    fn values_are_what_the_question_gives() {
        assert_eq!(
            values("In which city does the customer Linus live? Look it up."),
            ["'Linus'"]
        );
        assert_eq!(
            values("How many customers live in New York or in 'São Paulo'? Over 3.5 please"),
            ["'São Paulo'", "'New York'", "3.5"]
        );
        assert!(values("How many products are in the shop database?").is_empty());
        // An apostrophe inside a word opens no quote.
        assert_eq!(
            values("What is the client's name, says O'Brien?"),
            ["'O'Brien'"].map(|v| v.replace("O'B", "O''B"))
        );
        assert_eq!(
            values("Reverse 'stressed' and \"desserts\""),
            ["'stressed'", "'desserts'"]
        );
    }

    #[test]
    fn the_sql_grammar_names_only_the_linked_tables_and_offers_where_only_with_a_value() {
        let g = sql(&shop(), "How many products are there?");
        assert!(g.contains("table ::= \"products\"\n"), "{g}");
        assert!(!g.contains("where"), "{g}");
        let g = sql(&shop(), "What is the price of the Desk?");
        assert!(
            g.contains("root ::= \" \" cols \" FROM \" table where? order? \"\\n\""),
            "{g}"
        );
        assert!(g.contains("value ::= \"'Desk'\"\n"), "{g}");
        let odd = [TableSchema {
            name: "my table".into(),
            columns: vec!["a\"b".into()],
        }];
        let g = sql(&odd, "x");
        assert!(g.contains(r#"table ::= "\"my table\"""#), "{g}");
        assert!(g.contains(r#"col ::= "\"a\"\"b\"""#), "{g}");
    }
}
