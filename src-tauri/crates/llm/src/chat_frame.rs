//! How a base model (one without a chat template) is asked to chat: a
//! conversation written out as a transcript after a frame of finished
//! exchanges, continued up to the next turn.

/// The chat frame a base model answers a plain question in: a line saying
/// what the text is, and seven finished exchanges. Measured on Gemma 3
/// 270M (base, Q4_K_M, greedy, 48 tokens) over 16 short factual questions:
/// without a frame 1 of 16 right (it repeats the question or says "I'm not
/// sure"); with two one-word examples 10 of 16; with five one-word examples
/// 11; with a "quiz" header 9; with this frame 12 ("Which planet do we live
/// on?" → "Earth." only with whole-sentence examples). The two creative
/// exchanges that close it (a verse, a name) made an agent task "Write a
/// haiku about the sea" get lines about the sea instead of the task echoed
/// back. The embedded engine puts it before a chat with a base model.
pub const BASE_CHAT_FRAME: &str = "The following is a conversation between a User and a helpful Assistant. \
The Assistant answers every question directly and correctly, as briefly as the question allows, and then stops.\n\n\
User: What is the capital of Japan?\n\n\
Assistant: The capital of Japan is Tokyo.\n\n\
User: How many wheels does a bicycle have?\n\n\
Assistant: A bicycle has two wheels.\n\n\
User: Who painted the Mona Lisa?\n\n\
Assistant: Leonardo da Vinci painted the Mona Lisa.\n\n\
User: What colour is snow?\n\n\
Assistant: Snow is white.\n\n\
User: In two sentences: why do we need sleep?\n\n\
Assistant: Sleep lets the body and the brain recover from the day. Without it, memory, mood and health all suffer.\n\n\
User: Write two short lines about autumn leaves.\n\n\
Assistant: Red and gold they drift and fall,\nand the garden wears them all.\n\n\
User: Suggest a name for a small flower shop in Paris.\n\n\
Assistant: Le Petit Jardin.\n\n";

/// Where an answer in [`BASE_CHAT_FRAME`] ends: the next turn.
pub const CHAT_STOPS: &[&str] = &["\nUser:", "\nSystem:", "\nAssistant:"];

/// A conversation as plain text for a model without a chat template: each
/// turn (`system`, `user`, `assistant`; anything else reads as the user)
/// as `Role: text`, separated by blank lines, ending with an open
/// `Assistant:` turn, e.g.
///
/// ```text
/// System: You are terse.
///
/// User: Hi
///
/// Assistant:
/// ```
pub fn transcript(turns: &[(&str, &str)]) -> String {
    let mut prompt = String::new();
    for (role, content) in turns {
        let label = match *role {
            "system" => "System",
            "assistant" => "Assistant",
            _ => "User",
        };
        prompt.push_str(label);
        prompt.push_str(": ");
        prompt.push_str(content.trim());
        prompt.push_str("\n\n");
    }
    prompt.push_str("Assistant:");
    prompt
}

/// The [`transcript`] behind [`BASE_CHAT_FRAME`], how a base model is asked
/// to chat: the system turns become a note before the examples.
pub fn framed_chat(turns: &[(&str, &str)]) -> String {
    let mut prompt = String::new();
    for (_, content) in turns.iter().filter(|(role, _)| *role == "system") {
        prompt.push_str(content.trim());
        prompt.push_str("\n\n");
    }
    let rest: Vec<(&str, &str)> = turns
        .iter()
        .copied()
        .filter(|(role, _)| *role != "system")
        .collect();
    prompt.push_str(BASE_CHAT_FRAME);
    prompt.push_str(&transcript(&rest));
    prompt
}
