//! The IPC surface is declared once: the `#[tauri::command]` functions in
//! `src-tauri/src/commands/`. This test reads them (with `syn`) and renders
//! what must agree with them:
//!
//! - `src-tauri/src/commands/handler.rs`, the invoke handler's list;
//! - `src-tauri/permissions/app.toml`, the permission the window's
//!   capability grants (exactly these commands, nothing else);
//! - `ui/src/commands.ts`, one typed wrapper per command (the
//!   argument and result types are the ts-rs bindings), so no command name is
//!   typed by hand in `ui/src`.
//!
//! It fails when a committed file differs from what the commands say (stale
//! or hand-edited). `make bindings` (`UPDATE_BINDINGS=1`) rewrites them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use syn::{FnArg, GenericArgument, Item, Pat, PathArguments, ReturnType, Type};

/// One command as declared in Rust.
struct Command {
    module: String,
    name: String,
    doc: Vec<String>,
    /// (argument name in camelCase, TypeScript type, optional)
    args: Vec<(String, String, bool)>,
    result: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Argument types Tauri injects; they are not part of the call.
const INJECTED: &[&str] = &["State", "AppHandle", "Window", "Webview", "WebviewWindow"];

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) => p.path.segments.last(),
        Type::Reference(r) => last_segment(&r.elem),
        _ => None,
    }
}

fn generic_args(seg: &syn::PathSegment) -> Vec<&Type> {
    match &seg.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The TypeScript type of a Rust type, collecting the binding types it names.
fn ts_type(ty: &Type, imports: &mut BTreeSet<String>) -> String {
    if let Type::Tuple(t) = ty {
        assert!(t.elems.is_empty(), "tuples cannot cross IPC: {}", quote(ty));
        return "null".into();
    }
    let seg = last_segment(ty).unwrap_or_else(|| panic!("unsupported type {}", quote(ty)));
    let name = seg.ident.to_string();
    let args = generic_args(seg);
    match name.as_str() {
        "String" | "str" | "PathBuf" | "Id" => "string".into(),
        "bool" => "boolean".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" | "f32"
        | "f64" => "number".into(),
        "Option" => format!("{} | null", ts_type(args[0], imports)),
        "Vec" => {
            let inner = ts_type(args[0], imports);
            if inner.contains(' ') {
                format!("({inner})[]")
            } else {
                format!("{inner}[]")
            }
        }
        "Value" => {
            imports.insert("JsonValue".into());
            "JsonValue".into()
        }
        "Channel" => format!("Channel<{}>", ts_type(args[0], imports)),
        _ => {
            imports.insert(name.clone());
            if args.is_empty() {
                name
            } else {
                let inner: Vec<String> = args.iter().map(|a| ts_type(a, imports)).collect();
                format!("{name}<{}>", inner.join(", "))
            }
        }
    }
}

fn quote(ty: &Type) -> String {
    match last_segment(ty) {
        Some(seg) => seg.ident.to_string(),
        None => "<type>".into(),
    }
}

fn doc_lines(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn is_command(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "command")
    })
}

/// Every command of `src-tauri/src/commands/*.rs`, by file name, then in
/// source order.
fn commands(imports: &mut BTreeSet<String>) -> Vec<Command> {
    let dir = root().join("src-tauri/src/commands");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("commands folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "rs") && p.file_name() != Some("handler.rs".as_ref())
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let module = file.file_stem().unwrap().to_string_lossy().to_string();
        let src = std::fs::read_to_string(&file).unwrap();
        let parsed = syn::parse_file(&src).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for item in parsed.items {
            let Item::Fn(f) = item else { continue };
            if !is_command(&f.attrs) {
                continue;
            }
            let name = f.sig.ident.to_string();
            let mut args = Vec::new();
            for input in &f.sig.inputs {
                let FnArg::Typed(pt) = input else {
                    panic!("{name}: a command takes no self")
                };
                let ty_name = last_segment(&pt.ty)
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                if INJECTED.contains(&ty_name.as_str()) {
                    continue;
                }
                let Pat::Ident(id) = &*pt.pat else {
                    panic!("{name}: arguments must be plain names")
                };
                let optional = ty_name == "Option";
                let ts = if optional {
                    let seg = last_segment(&pt.ty).unwrap();
                    ts_type(generic_args(seg)[0], imports)
                } else {
                    ts_type(&pt.ty, imports)
                };
                args.push((camel(&id.ident.to_string()), ts, optional));
            }
            let result = match &f.sig.output {
                ReturnType::Default => "null".to_string(),
                ReturnType::Type(_, ty) => {
                    let seg = last_segment(ty).unwrap();
                    if seg.ident == "CmdResult" || seg.ident == "Result" {
                        ts_type(generic_args(seg)[0], imports)
                    } else {
                        ts_type(ty, imports)
                    }
                }
            };
            out.push(Command {
                module: module.clone(),
                name,
                doc: doc_lines(&f.attrs),
                args,
                result,
            });
        }
    }
    out
}

const HEADER: &str = "Generated from the #[tauri::command] functions in src-tauri/src/commands/ by tests/ipc_surface.rs (make bindings). Do not edit this file manually.";

fn render_handler(cmds: &[Command]) -> String {
    let mut s = format!("// {HEADER}\ntauri::generate_handler![\n");
    for c in cmds {
        let _ = writeln!(s, "    {}::{},", c.module, c.name);
    }
    s.push_str("]\n");
    s
}

fn render_permission(cmds: &[Command]) -> String {
    let mut s = format!(
        "# {HEADER}\n\
         # The IPC commands the web view may call. The capability in\n\
         # src-tauri/capabilities/main.json grants this set; anything not listed here\n\
         # (and every plugin command not granted there) is refused.\n\
         [[permission]]\n\
         identifier = \"app-commands\"\n\
         description = \"Ensemble's own IPC commands.\"\n\
         commands.allow = [\n"
    );
    for c in cmds {
        let _ = writeln!(s, "  \"{}\",", c.name);
    }
    s.push_str("]\n");
    s
}

/// Where the TypeScript binding of `name` lives, relative to `ui/src`.
fn binding_path(name: &str) -> String {
    let ui = root().join("ui/src");
    if name == "JsonValue" {
        return "./bindings/serde_json/JsonValue".into();
    }
    if ui.join("app-bindings").join(format!("{name}.ts")).exists() {
        return format!("./app-bindings/{name}");
    }
    assert!(
        ui.join("bindings").join(format!("{name}.ts")).exists(),
        "the command type {name} has no TypeScript binding in ui/src/bindings or ui/src/app-bindings \
         (export it with ts-rs)"
    );
    format!("./bindings/{name}")
}

fn render_ts(cmds: &[Command], imports: &BTreeSet<String>) -> String {
    let mut s = format!(
        "// {HEADER}\n\
         // One typed call per IPC command; `call` turns every failure into an ApiError.\n"
    );
    if cmds
        .iter()
        .any(|c| c.args.iter().any(|a| a.1.contains("Channel<")))
    {
        s.push_str("import type { Channel } from \"@tauri-apps/api/core\";\n");
    }
    s.push_str("import { call } from \"./ipc\";\n");
    for name in imports {
        let _ = writeln!(
            s,
            "import type {{ {name} }} from \"{}\";",
            binding_path(name)
        );
    }
    for c in cmds {
        s.push('\n');
        if !c.doc.is_empty() {
            let _ = writeln!(s, "/** {} */", c.doc.join(" ").replace("*/", "*\\/"));
        }
        // An optional argument may be left out only when every later one may be too.
        let mut params = Vec::new();
        let mut tail_optional = true;
        for (name, ty, optional) in c.args.iter().rev() {
            tail_optional &= *optional;
            params.push(if *optional && tail_optional {
                format!("{name}?: {ty}")
            } else if *optional {
                format!("{name}: {ty} | undefined")
            } else {
                format!("{name}: {ty}")
            });
        }
        params.reverse();
        let names: Vec<&str> = c.args.iter().map(|a| a.0.as_str()).collect();
        let call_args = if names.is_empty() {
            String::new()
        } else {
            format!(", {{ {} }}", names.join(", "))
        };
        let _ = writeln!(
            s,
            "export const {} = ({}) => call<{}>(\"{}\"{});",
            camel(&c.name),
            params.join(", "),
            c.result,
            c.name,
            call_args
        );
    }
    s
}

fn check(path: &Path, fresh: &str, stale: &mut Vec<String>) {
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed == fresh {
        return;
    }
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(path, fresh).unwrap();
    } else {
        stale.push(path.display().to_string());
    }
}

#[test]
fn ipc_surface_is_current() {
    let mut imports = BTreeSet::new();
    let cmds = commands(&mut imports);
    assert!(cmds.len() > 60, "parsed only {} commands", cmds.len());
    let mut seen = BTreeSet::new();
    for c in &cmds {
        assert!(
            seen.insert(c.name.clone()),
            "command {} is declared twice",
            c.name
        );
    }
    let ts = render_ts(&cmds, &imports);
    let mut stale = Vec::new();
    check(
        &root().join("src-tauri/src/commands/handler.rs"),
        &render_handler(&cmds),
        &mut stale,
    );
    check(
        &root().join("src-tauri/permissions/app.toml"),
        &render_permission(&cmds),
        &mut stale,
    );
    check(&root().join("ui/src/commands.ts"), &ts, &mut stale);
    assert!(
        stale.is_empty(),
        "out of date with the commands (run `make bindings`): {stale:?}"
    );
}

/// No file of the UI names a command by hand: they call the generated
/// wrappers (tests may mock `invoke` by name).
#[test]
fn the_ui_names_no_command_by_hand() {
    let mut imports = BTreeSet::new();
    let cmds = commands(&mut imports);
    let mut offenders = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("test") && !p.ends_with("app-bindings") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "ts" || x == "tsx")
                && !p.to_string_lossy().contains(".test.")
                // The generated calls themselves.
                && p != root().join("ui/src/commands.ts")
            {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("ui/src"), &mut files);
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        for c in &cmds {
            if src.contains(&format!("\"{}\"", c.name)) || src.contains(&format!("'{}'", c.name)) {
                offenders.push(format!("{}: {}", f.display(), c.name));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "command names typed by hand: {offenders:?}"
    );
}

/// The window's capability grants our commands, events, window basics and
/// the open/save dialogs (they return a path, which only our commands use):
/// no fs, shell, http or other plugins.
#[test]
fn the_capability_grants_only_our_commands() {
    let cap: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("src-tauri/capabilities/main.json")).unwrap(),
    )
    .expect("capability JSON");
    for p in cap["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p.as_str())
    {
        assert!(
            p == "app-commands"
                || p.starts_with("core:event:")
                || p.starts_with("core:window:")
                || p == "core:app:allow-version"
                || p == "dialog:allow-open"
                || p == "dialog:allow-save",
            "unexpected permission {p}"
        );
    }
}
