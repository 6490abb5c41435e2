//! Renders a conversation into the prompt text the model was trained on.
//!
//! The model's own chat template (from its GGUF metadata, applied by
//! llama.cpp) is preferred. When the model has none, or llama.cpp cannot apply
//! it, [`fallback`] renders a plain transcript instead.
//!
//! Chat templates know only system/user/assistant turns, so tool results are
//! sent as user turns that say which tool answered, and an assistant's tool
//! calls are appended to its text as JSON: the embedded engine does not call
//! tools natively (the agent runtime asks for schema-constrained JSON steps),
//! but a conversation may still carry them from another provider.

use ensemble_llm::chat_frame;
use ensemble_llm::{ModelMessage, Role};
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};

/// One turn as chat templates understand it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Turn {
    pub role: &'static str,
    pub content: String,
}

pub(crate) fn turns(messages: &[ModelMessage]) -> Vec<Turn> {
    messages
        .iter()
        .map(|message| {
            let (role, mut content) = match message.role {
                Role::System => ("system", message.content.clone()),
                Role::User => ("user", message.content.clone()),
                Role::Assistant => ("assistant", message.content.clone()),
                Role::Tool => {
                    let name = message.name.as_deref().unwrap_or("a tool");
                    ("user", format!("Result of {name}:\n{}", message.content))
                }
            };
            for call in &message.tool_calls {
                let call = serde_json::json!({ "tool": call.name, "arguments": call.arguments });
                if !content.is_empty() {
                    content.push('\n');
                }
                content.push_str(&call.to_string());
            }
            // NUL cannot cross into C strings; it carries no meaning in a chat.
            content.retain(|c| c != '\0');
            Turn { role, content }
        })
        .collect()
}

/// A prompt ready to tokenize, with how to read the answer that follows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rendered {
    pub text: String,
    /// Text that means the model has finished its turn and started another
    /// one: a model without a chat template (a base model) knows no
    /// end-of-turn token and would otherwise write the rest of the transcript.
    pub stops: &'static [&'static str],
    /// Drop whitespace before the answer (the fallback's `Assistant:` is
    /// naturally followed by a space).
    pub trim_start: bool,
}

/// Turn openings of the [`fallback`] template.
const FALLBACK_STOPS: &[&str] = chat_frame::CHAT_STOPS;

/// The prompt for `messages`, ending where the assistant's answer begins:
/// the model's own template, else the plain [`fallback`] transcript behind a
/// short few-shot frame (`chat_frame::BASE_CHAT_FRAME`) that makes a base model answer.
///
/// A model without a template is usually a base model (the default Gemma 3
/// 270M is one). Measured on it, llama.cpp's built-in `gemma` turn markers
/// made it echo the question and loop until the token limit, so the
/// transcript is the plain `User:` / `Assistant:` one with its stop strings.
/// Without the frame it continued a question with more questions ("In two
/// sentences: what does a research crew do?" got two more questions); with
/// it, short factual questions get short answers (see `BASE_CHAT_FRAME`). JSON
/// answers (`json`) get no frame: their format comes from the instructions
/// and the grammar, and the chat examples only distracted the model there.
pub(crate) fn render(model: &LlamaModel, messages: &[ModelMessage], json: bool) -> Rendered {
    let turns = turns(messages);
    let own = model
        .chat_template(None)
        .map_err(TemplateError::from)
        .and_then(|template| apply(model, &template, &turns));
    match own {
        Ok(text) => Rendered {
            text,
            stops: &[],
            trim_start: false,
        },
        Err(reason) => {
            tracing::debug!(%reason, "using the plain fallback transcript with the base-model frame");
            Rendered {
                text: if json {
                    fallback(&turns)
                } else {
                    framed(&turns)
                },
                stops: FALLBACK_STOPS,
                trim_start: true,
            }
        }
    }
}

/// The plain transcript behind the few-shot frame that makes a base model
/// answer (`BASE_CHAT_FRAME`: finished exchanges, so that it answers the
/// next question instead of continuing it, and stops after the answer); a
/// system message becomes a note before the examples. The same frame the
/// agent runtime's guided steps answer in; what was measured with it is
/// said there.
pub(crate) fn framed(turns: &[Turn]) -> String {
    chat_frame::framed_chat(&pairs(turns))
}

fn pairs(turns: &[Turn]) -> Vec<(&str, &str)> {
    turns.iter().map(|t| (t.role, t.content.as_str())).collect()
}

/// Why the model's own chat template did not render a conversation (the
/// plain transcript is used then).
#[derive(Debug, thiserror::Error)]
enum TemplateError {
    #[error("the model brings no chat template llama.cpp can use: {0}")]
    Missing(#[from] llama_cpp_2::ChatTemplateError),
    #[error("a message cannot be given to the template: {0}")]
    ModelMessage(#[from] llama_cpp_2::NewLlamaChatMessageError),
    #[error("the template failed: {0}")]
    Apply(#[from] llama_cpp_2::ApplyChatTemplateError),
}

fn apply(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    turns: &[Turn],
) -> Result<String, TemplateError> {
    let chat = turns
        .iter()
        .map(|t| LlamaChatMessage::new(t.role.to_owned(), t.content.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(model.apply_chat_template(template, &chat, true)?)
}

/// The plain template used when the model brings none that llama.cpp can
/// apply (`chat_frame::transcript`): each turn as `Role: text`, ending with an
/// open `Assistant:` turn.
pub(crate) fn fallback(turns: &[Turn]) -> String {
    chat_frame::transcript(&pairs(turns))
}

#[cfg(test)]
mod tests {
    use ensemble_llm::ToolCall;

    use super::*;

    #[test]
    fn tool_results_and_calls_become_text_the_template_understands() {
        let mut call = ModelMessage::assistant("Let me look.");
        call.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "search".into(),
            arguments: serde_json::json!({"q": "rust"}),
        });
        let messages = [
            ModelMessage::system("Be brief.\0"),
            ModelMessage::user("Find rust"),
            call,
            ModelMessage::tool_result("c1", "search", "3 hits"),
        ];
        let turns = turns(&messages);
        let roles: Vec<_> = turns.iter().map(|t| t.role).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(turns[0].content, "Be brief.");
        let (text, call) = turns[2].content.split_once('\n').unwrap_or_default();
        assert_eq!(text, "Let me look.");
        let call: serde_json::Value = serde_json::from_str(call).unwrap_or_default();
        assert_eq!(
            call,
            serde_json::json!({"tool": "search", "arguments": {"q": "rust"}})
        );
        assert_eq!(turns[3].content, "Result of search:\n3 hits");
    }

    #[test]
    fn a_base_model_reads_the_frame_then_the_conversation() {
        let turns = turns(&[
            ModelMessage::system("You are Ada."),
            ModelMessage::user("Hi"),
        ]);
        let text = framed(&turns);
        assert!(
            text.starts_with("You are Ada.\n\nThe following is a conversation"),
            "{text}"
        );
        assert!(
            text.ends_with("Assistant: Le Petit Jardin.\n\nUser: Hi\n\nAssistant:"),
            "{text}"
        );
        assert_eq!(text.matches("User:").count(), 8);
    }

    #[test]
    fn the_fallback_template_labels_turns_and_leaves_the_answer_open() {
        let turns = turns(&[
            ModelMessage::system("Be brief."),
            ModelMessage::user(" Hi "),
            ModelMessage::assistant("Hello"),
        ]);
        assert_eq!(
            fallback(&turns),
            "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello\n\nAssistant:"
        );
    }
}
