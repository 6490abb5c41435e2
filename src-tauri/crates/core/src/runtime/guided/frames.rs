//! The prompts of guided steps: for each thing a base model is asked to
//! write — a program, a query, a fact to keep, a final answer, the choice
//! of a tool — a short text of finished examples that the real case then
//! continues. None of the examples is a task of the competence benchmark.

use crate::tools::sql::TableSchema;

pub use ensemble_llm::chat_frame::{framed_chat, transcript, BASE_CHAT_FRAME, CHAT_STOPS};

/// Programs for `code_run`: one line of Python that prints the answer. The
/// examples each show another idiom (an operator, `len` of a quoted word,
/// a range with a condition, a slice, a percentage, numbers taken from data
/// read before, a mean), so the model copies the form and not an example's
/// numbers; the last two carry a `Data:` line as a task after a `web_fetch`
/// does, before the task: read first, then asked. Measured on the default
/// 270M model over the four fetch-then-compute tasks of the competence
/// suite: 3 of 4 programs right with the data before the task, 1 of 4 with
/// it after (`3 + 12 + 1` for prices of 3, 12 and 2).
const PROGRAM: &str =
    "Each task below is solved by a one-line Python program that prints the answer.\n\n\
Task: What is 6 times 7?\n\
Program: print(6 * 7)\n\n\
Task: How many characters are in the word 'kitchen'?\n\
Program: print(len('kitchen'))\n\n\
Task: How many numbers from 1 to 50 can be divided by 3?\n\
Program: print(len([n for n in range(1, 51) if n % 3 == 0]))\n\n\
Task: What are the last three letters of the word 'garden'?\n\
Program: print('garden'[-3:])\n\n\
Task: What is 15 percent of 80?\n\
Program: print(80 * 15 / 100)\n\n\
Data: Tea: 4 euros. Soup: 6 euros. Pie: 5 euros.\n\
Task: Add up the prices on the page.\n\
Program: print(4 + 6 + 5)\n\n\
Data: Monday 18 degrees, Tuesday 22 degrees.\n\
Task: What is the mean temperature?\n\
Program: print((18 + 22) / 2)\n\n\
Task: What is 9 divided by 0?\n\
Program: print(9 / 0)\n\
Error: ZeroDivisionError: division by zero\n\
Program: print('9 cannot be divided by 0')\n\n";

/// Queries for `sql_query`, on two made-up schemas: a count, a value by
/// name, a value by another column, a count with a condition, the first
/// by an order. Measured on the default 270M model over the six look-ups of
/// the competence suite, with the query's grammar ([`super::grammar::sql`]):
/// 4 of 6 right, against 1 to 3 with three examples on one schema and
/// 0 to 2 without a grammar.
const SQL: &str =
    "Each question below is answered by one SQLite query on the tables listed with it.\n\n\
Tables: books(id, title, author, year); members(id, name, town)\n\
Question: How many books are there?\n\
SQL: SELECT count(*) FROM books\n\n\
Tables: books(id, title, author, year); members(id, name, town)\n\
Question: Who wrote the book Dune?\n\
SQL: SELECT author FROM books WHERE title = 'Dune'\n\n\
Tables: books(id, title, author, year); members(id, name, town)\n\
Question: In which town does the member Omar live?\n\
SQL: SELECT town FROM members WHERE name = 'Omar'\n\n\
Tables: books(id, title, author, year); members(id, name, town)\n\
Question: How many members live in Leeds?\n\
SQL: SELECT count(*) FROM members WHERE town = 'Leeds'\n\n\
Tables: books(id, title, author, year); members(id, name, town)\n\
Question: What is the title of the oldest book?\n\
SQL: SELECT title FROM books ORDER BY year ASC LIMIT 1\n\n\
Tables: cars(id, model, speed); drivers(id, name, team)\n\
Question: How many drivers are there?\n\
SQL: SELECT count(*) FROM drivers\n\n\
Tables: cars(id, model, speed); drivers(id, name, team)\n\
Question: Which model is the fastest car?\n\
SQL: SELECT model FROM cars ORDER BY speed DESC LIMIT 1\n\n\
Tables: cars(id, model, speed); drivers(id, name, team)\n\
Question: What is the speed of the Falcon?\n\
SQL: SELECT speed FROM cars WHERE model = 'Falcon'\n\n";

/// Final answers: one sentence with the fact taken from the result of the
/// calls. Measured on the default 270M model: the four page look-ups of the
/// competence suite answered 4 of 4 with this frame (the page text as the
/// result), against 0 of 4 as a JSON step after the observation.
const ANSWER: &str =
    "Each question below is answered in one sentence, with the fact taken from the result.\n\n\
Question: What is 6 times 7?\n\
Result: 42\n\
Answer: 6 times 7 is 42.\n\n\
Question: When does the library close?\n\
Result: City Library\nOpen from 9:00 to 17:00, Monday to Friday.\n\
Answer: The library closes at 17:00.\n\n\
Question: How many invoices are in the sales database?\n\
Result: count(*): 12\n\
Answer: There are 12 invoices.\n\n\
Question: Who is the manager?\n\
Result: Staff\nOur manager is Tom Berg. He joined in 2019.\n\
Answer: The manager is Tom Berg.\n\n";

/// Facts for `remember`: the fact itself, as a sentence.
const FACT: &str = "Each task below asks to keep a fact; the fact is written as one sentence.\n\n\
Task: Remember this for the team: the office opens at nine.\n\
Fact: The office opens at nine.\n\n\
Task: Note for later that the supplier is called Nordmill.\n\
Fact: The supplier is called Nordmill.\n\n";

/// The first move on a task that names no tool: a tool or the answer.
const CHOOSE: &str = "Each task below is either answered directly or needs one of the tools listed with it first.\n\n\
Tools: code_run (runs a Python program), web_fetch (reads a web page)\n\
Task: What is the capital of Italy?\n\
First: answer\n\n\
Tools: code_run (runs a Python program), web_fetch (reads a web page)\n\
Task: What is 1234 times 5678?\n\
First: code_run\n\n\
Tools: sql_query (queries a database), remember (keeps a fact for the team)\n\
Task: Write a short greeting for new customers.\n\
First: answer\n\n\
Tools: sql_query (queries a database), remember (keeps a fact for the team)\n\
Task: How many orders are in the sales database?\n\
First: sql_query\n\n";

/// Most characters of a tool's result shown to the model.
const RESULT_CHARS: usize = 1200;

/// A prompt to continue, and where its continuation starts (the text the
/// prompt ends with that belongs to the answer, e.g. `print(`).
pub struct Prompt {
    pub text: String,
    /// Text the answer is the continuation of (put back before it).
    pub lead: &'static str,
}

/// The program for `task`, with what earlier calls read (`data`) and the
/// attempt to correct (its program and the error it got).
pub fn program(task: &str, data: &[String], failed: Option<(&str, &str)>) -> Prompt {
    let mut text = String::from(PROGRAM);
    if !data.is_empty() {
        let joined: Vec<String> = data.iter().map(|d| plain(d)).collect();
        text.push_str(&format!(
            "Data: {}\n",
            clip(&joined.join(" "), RESULT_CHARS)
        ));
    }
    text.push_str(&format!("Task: {}\n", one_line(task)));
    if let Some((code, error)) = failed {
        text.push_str(&format!(
            "Program: {}\nError: {}\n",
            one_line(code),
            one_line(error)
        ));
    }
    text.push_str("Program: print(");
    Prompt {
        text,
        lead: "print(",
    }
}

/// The query for `question` on `tables`, with the attempt to correct.
pub fn query(question: &str, tables: &[TableSchema], failed: Option<(&str, &str)>) -> Prompt {
    let mut text = String::from(SQL);
    text.push_str(&format!(
        "Tables: {}\nQuestion: {}\n",
        describe(tables),
        one_line(question)
    ));
    if let Some((sql, error)) = failed {
        text.push_str(&format!(
            "SQL: {}\nError: {}\n",
            one_line(sql),
            one_line(error)
        ));
    }
    text.push_str("SQL: SELECT");
    Prompt {
        text,
        lead: "SELECT",
    }
}

/// `products(id, name, price); customers(id, name, city)`.
pub fn describe(tables: &[TableSchema]) -> String {
    tables
        .iter()
        .map(|t| format!("{}({})", t.name, t.columns.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The fact `task` asks to keep.
pub fn fact(task: &str) -> Prompt {
    Prompt {
        text: format!("{FACT}Task: {}\nFact:", one_line(task)),
        lead: "",
    }
}

/// The final answer to `question` from `result`.
pub fn answer(question: &str, result: &str) -> Prompt {
    Prompt {
        text: format!(
            "{ANSWER}Question: {}\nResult: {}\nAnswer:",
            one_line(question),
            clip(result.trim(), RESULT_CHARS)
        ),
        lead: "",
    }
}

/// The answer to a task no tool worked on, in the chat frame: the agent's
/// own instructions first, then the frame, then what the run knows (team
/// notes, results it depends on) and the task as the user's turn.
pub fn direct(instructions: &str, notes: &[String], task: &str) -> Prompt {
    let mut asked = String::new();
    for n in notes {
        asked.push_str(&clip(n.trim(), RESULT_CHARS));
        asked.push('\n');
    }
    asked.push_str(task.trim());
    let mut turns = Vec::new();
    if !instructions.trim().is_empty() {
        turns.push(("system", instructions));
    }
    turns.push(("user", asked.as_str()));
    Prompt {
        text: framed_chat(&turns),
        lead: "",
    }
}

/// The first move on `task` for an agent with `tools` (name, what it does).
pub fn choose(task: &str, tools: &[(String, String)]) -> Prompt {
    let listed: Vec<String> = tools
        .iter()
        .map(|(name, what)| format!("{name} ({what})"))
        .collect();
    Prompt {
        text: format!(
            "{CHOOSE}Tools: {}\nTask: {}\nFirst:",
            listed.join(", "),
            one_line(task)
        ),
        lead: "",
    }
}

/// What a tool's result says, for a frame: a program's output without the
/// `exit code 0` / `stdout:` lines around it; a query's table as
/// `column: value` (one row) or one line per row; anything else as it is.
pub fn result_text(observation: &str) -> String {
    let t = observation.trim();
    if let Some(table) = from_table(t) {
        return table;
    }
    match t.strip_prefix("exit code 0") {
        Some(rest) => {
            let rest = rest.trim_start();
            let out = rest.strip_prefix("stdout:").unwrap_or(rest);
            // A program's stderr after its output is not part of the result.
            let out = out.split("\nstderr:").next().unwrap_or(out);
            out.trim().to_string()
        }
        None => t.to_string(),
    }
}

/// A Markdown table (`sql_query`'s result) as plain lines: with one row,
/// `name: Desk, price: 180`; with more, the header and then each row's
/// values. None when the text is not such a table.
fn from_table(text: &str) -> Option<String> {
    let mut lines = text.lines().map(str::trim);
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let header = lines.next().filter(|l| l.starts_with('|'))?;
    let rule = lines.next()?;
    if !rule.starts_with("|-") && !rule.starts_with("| -") {
        return None;
    }
    let names = cells(header);
    let rows: Vec<Vec<String>> = lines.filter(|l| l.starts_with('|')).map(cells).collect();
    Some(match rows.as_slice() {
        [] => format!("{}: no rows", names.join(", ")),
        [row] => names
            .iter()
            .zip(row)
            .map(|(n, v)| format!("{n}: {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => {
            let mut out = vec![format!("{}:", names.join(", "))];
            out.extend(rows.iter().map(|r| r.join(", ")));
            out.join("\n")
        }
    })
}

/// The error line of a failed call, for a correction: the last line of a
/// program's stderr (Python's exception), else the tool's message.
pub fn error_line(observation: &str) -> String {
    let t = observation.trim();
    if let Some(at) = t.find("stderr:") {
        if let Some(last) = t[at + "stderr:".len()..]
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
        {
            return last.to_string();
        }
    }
    let t = t.strip_prefix("Error:").unwrap_or(t).trim();
    clip(t, 300)
}

/// Text read from a page or a tool as plain sentences on one line: the
/// marks of headings and list items dropped, each line a sentence. A page
/// comes from `web_fetch` as `# Prices\n* Bread: 3 euros\n* Cake: …`, and
/// its bullets read as multiplication signs in a program's `Data:` line.
pub fn plain(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut l = line.trim();
        loop {
            let stripped = l
                .strip_prefix(|c: char| matches!(c, '#' | '*' | '-' | '+' | '>' | '|'))
                .map(str::trim_start);
            match stripped {
                Some(rest) if rest.len() < l.len() => l = rest,
                _ => break,
            }
        }
        let l = l.trim_end_matches('|').trim();
        if l.is_empty() {
            continue;
        }
        let mut sentence = one_line(l);
        if !sentence.ends_with(['.', '!', '?', ':', ';']) {
            sentence.push('.');
        }
        out.push(sentence);
    }
    out.join(" ")
}

/// Text on one line (a frame's entries are lines), whitespace collapsed.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The task as a question for a frame: its title and objective without the
/// words that only say which tool to use ("Compute it with code_run.",
/// "Read http://… with web_fetch.", "… using sql_query") — a frame already
/// is about one tool, and on the default 270M model the program frame got
/// 6 of 8 arithmetic tasks right on the bare question against 4 of 8 with
/// the tool's name left in. Addresses stay where they are part of the
/// question.
pub fn question(title: &str, objective: &str, tools: &[&str]) -> String {
    let mut text = title.trim().to_string();
    if !objective.trim().is_empty() && objective.trim() != title.trim() {
        text.push(' ');
        text.push_str(objective.trim());
    }
    let sentences = split_sentences(&text);
    let mut kept = Vec::new();
    for s in sentences {
        let mut s = s.to_string();
        for tool in tools {
            for prep in ["with", "using", "through", "via", "by"] {
                for form in [
                    format!(" {prep} the {tool} tool"),
                    format!(" {prep} {tool}"),
                    format!(" {prep} the {tool}"),
                ] {
                    s = s.replace(&form, "");
                }
            }
        }
        let bare = s.trim().trim_end_matches(['.', '!']).trim().to_lowercase();
        let words: Vec<&str> = bare.split_whitespace().collect();
        // What is left of "Compute it with code_run." / "Use sql_query." /
        // "Read http://x/page.html with web_fetch." says nothing more.
        let only_instruction = tools.iter().any(|t| bare == format!("use {t}"))
            || matches!(
                words.as_slice(),
                [
                    "compute" | "count" | "calculate" | "check" | "work",
                    "it" | "them" | "this"
                ] | ["look", "it" | "them", "up"]
                    | ["look", "it" | "them", "up", "in", "the", _, "database"]
            )
            || (words.len() == 2
                && matches!(words[0], "read" | "fetch" | "open" | "visit")
                && (words[1].starts_with("http://") || words[1].starts_with("https://")));
        if !only_instruction && !bare.is_empty() {
            kept.push(without_fetch_clause(s.trim()));
        }
    }
    if kept.is_empty() {
        return text;
    }
    kept.join(" ")
}

/// "Fetch http://…/a.html, then add up …" → "Add up …": the address was
/// read already (its text is in the frame), and the default 270M model took
/// the digits of `127.0.0.1` into its program.
fn without_fetch_clause(sentence: &str) -> String {
    let mut words = sentence.splitn(3, ' ');
    let (Some(verb), Some(target), rest) = (words.next(), words.next(), words.next()) else {
        return sentence.to_string();
    };
    let reads = matches!(
        verb.to_lowercase().as_str(),
        "fetch" | "read" | "open" | "visit" | "load"
    ) && (target.starts_with("http://") || target.starts_with("https://"));
    let rest = rest.unwrap_or("").trim_start();
    let Some(rest) = rest
        .strip_prefix("then ")
        .filter(|_| reads && target.ends_with(','))
    else {
        return sentence.to_string();
    };
    let mut chars = rest.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => sentence.to_string(),
    }
}

/// Sentences of `text`, each with its closing mark; a mark inside an
/// address (`page.html`) or a number (`3.5`) does not end one.
fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'?' | b'!') {
            let next = bytes.get(i + 1).copied();
            if next.is_none() || next == Some(b' ') || next == Some(b'\n') {
                out.push(&text[start..=i]);
                start = i + 1;
            }
        }
    }
    if start < text.len() && !text[start..].trim().is_empty() {
        out.push(&text[start..]);
    }
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_leaves_out_what_only_names_the_tool() {
        let tools = ["code_run", "web_fetch", "sql_query"];
        assert_eq!(
            question(
                "What is 17 multiplied by 23? Compute it with code_run.",
                "",
                &tools
            ),
            "What is 17 multiplied by 23?"
        );
        assert_eq!(
            question(
                "What is the price of the Desk in the shop database? Look it up with sql_query.",
                "",
                &tools
            ),
            "What is the price of the Desk in the shop database?"
        );
        assert_eq!(
            question(
                "Who is the head chef? Read http://127.0.0.1:81/team.html with web_fetch.",
                "",
                &tools
            ),
            "Who is the head chef?"
        );
        assert_eq!(
            question(
                "Fetch http://h/prices.html with web_fetch, then add up the three prices with code_run. What is the total in euros?",
                "",
                &tools
            ),
            "Add up the three prices. What is the total in euros?"
        );
        assert_eq!(
            question("Read http://h/a.html then say hi.", "", &tools),
            "Read http://h/a.html then say hi."
        );
        assert_eq!(
            question("What is 3.5 times 4? Use code_run.", "Be exact.", &tools),
            "What is 3.5 times 4? Be exact."
        );
        // Nothing but the instruction: the text stays as it is.
        assert_eq!(question("Use code_run.", "", &tools), "Use code_run.");
    }

    #[test]
    fn results_and_errors_are_taken_from_what_the_tool_said() {
        assert_eq!(result_text("exit code 0\nstdout:\n391\n"), "391");
        assert_eq!(
            result_text("exit code 0\nstdout:\n1\n2\nstderr:\nwarning\n"),
            "1\n2"
        );
        assert_eq!(result_text("count(*)\n5"), "count(*)\n5");
        assert_eq!(
            result_text("| name |\n|---|\n| Desk |\n(1 row)"),
            "name: Desk"
        );
        assert_eq!(
            result_text(
                "| name | city |\n|---|---|\n| Ada | London |\n| Linus | Helsinki |\n(2 rows)"
            ),
            "name, city:\nAda, London\nLinus, Helsinki"
        );
        assert_eq!(result_text("| n |\n|---|\n(0 rows)"), "n: no rows");
        assert_eq!(
            error_line("exit code 1\nstderr:\nTraceback (most recent call last):\n  File \"<stdin>\", line 1\nNameError: name 'word' is not defined\n"),
            "NameError: name 'word' is not defined"
        );
        assert_eq!(
            error_line("Error: no such column: price"),
            "no such column: price"
        );
        assert_eq!(
            plain("# Prices\n\n* Bread: 3 euros\n* Cake: 12 euros\n- Coffee: 2 euros."),
            "Prices. Bread: 3 euros. Cake: 12 euros. Coffee: 2 euros."
        );
        assert_eq!(plain("| name |\n| Desk |"), "name. Desk.");
    }

    #[test]
    fn frames_end_where_the_model_continues() {
        let p = program("What is 2 to the power of 20?", &["Price: 3".into()], None);
        assert!(p
            .text
            .ends_with("Data: Price: 3.\nTask: What is 2 to the power of 20?\nProgram: print("));
        assert_eq!(p.lead, "print(");
        let p = program(
            "t",
            &[],
            Some(("print(len(word))", "NameError: name 'word' is not defined")),
        );
        assert!(p.text.ends_with("Program: print(len(word))\nError: NameError: name 'word' is not defined\nProgram: print("));
        let tables = [TableSchema {
            name: "products".into(),
            columns: vec!["id".into(), "name".into()],
        }];
        let q = query("How many products?", &tables, None);
        assert!(q
            .text
            .ends_with("Tables: products(id, name)\nQuestion: How many products?\nSQL: SELECT"));
        let a = answer("Who is the chef?", "Team\nOur chef is Ana.");
        assert!(a
            .text
            .ends_with("Question: Who is the chef?\nResult: Team\nOur chef is Ana.\nAnswer:"));
        let d = direct(
            "You are Sage.",
            &["The client is Ada.".into()],
            "Who is the client?",
        );
        assert!(d
            .text
            .starts_with("You are Sage.\n\nThe following is a conversation"));
        assert!(d
            .text
            .ends_with("User: The client is Ada.\nWho is the client?\n\nAssistant:"));
        assert_eq!(
            transcript(&[
                ("system", "Be brief."),
                ("user", " Hi "),
                ("assistant", "Hello")
            ]),
            "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello\n\nAssistant:"
        );
        let chat = framed_chat(&[("system", "You are Ada."), ("user", "Hi")]);
        assert!(
            chat.starts_with("You are Ada.\n\nThe following is a conversation"),
            "{chat}"
        );
        assert!(
            chat.ends_with("Assistant: Le Petit Jardin.\n\nUser: Hi\n\nAssistant:"),
            "{chat}"
        );
        assert_eq!(chat.matches("User:").count(), 8);
        let c = choose(
            "What is 2+2?",
            &[("code_run".into(), "runs a program".into())],
        );
        assert!(c
            .text
            .ends_with("Tools: code_run (runs a program)\nTask: What is 2+2?\nFirst:"));
        // Long results are cut.
        let long = "x".repeat(5000);
        assert!(answer("q", &long).text.len() < ANSWER.len() + RESULT_CHARS + 100);
    }
}
