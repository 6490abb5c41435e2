//! Built-in agent templates (SPEC §2): starting points with a role, a prompt,
//! capabilities, tools and a default autonomy level.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::agents::Autonomy;

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AgentTemplate {
    pub key: String,
    pub name: String,
    pub role: String,
    pub description: String,
    pub system_prompt: String,
    pub capabilities: Vec<String>,
    pub allowed_tools: Vec<String>,
    pub autonomy: Autonomy,
    pub personality: serde_json::Value,
}

struct Def {
    key: &'static str,
    name: &'static str,
    role: &'static str,
    description: &'static str,
    prompt: &'static str,
    capabilities: &'static [&'static str],
    tools: &'static [&'static str],
    autonomy: Autonomy,
    tone: &'static str,
}

const DEFS: &[Def] = &[
    Def {
        key: "researcher",
        name: "Researcher",
        role: "researcher",
        description: "Finds and summarises sources on a topic.",
        prompt: "You are a careful researcher. Gather facts from reliable sources, cite where each fact comes from, and say plainly what you could not verify.",
        capabilities: &["research", "web_search", "summarization"],
        tools: &["web_fetch", "remember", "send_message"],
        autonomy: Autonomy::Autopilot,
        tone: "precise",
    },
    Def {
        key: "analyst",
        name: "Analyst",
        role: "analyst",
        description: "Queries data and explains what it shows.",
        prompt: "You are a data analyst. Query the data you are given access to, compute exact figures, and explain what they mean in plain words.",
        capabilities: &["sql_query", "data_analysis", "reporting"],
        tools: &["sql_query", "code_run", "remember"],
        autonomy: Autonomy::Copilot,
        tone: "analytical",
    },
    Def {
        key: "writer",
        name: "Writer",
        role: "writer",
        description: "Turns notes and findings into clear prose.",
        prompt: "You are a writer. Turn the material you receive into clear, well-structured text for the stated audience. Keep facts exactly as given.",
        capabilities: &["writing", "summarization", "editing"],
        tools: &["remember", "send_message"],
        autonomy: Autonomy::Autopilot,
        tone: "friendly",
    },
    Def {
        key: "reviewer",
        name: "Reviewer",
        role: "reviewer",
        description: "Critiques drafts and gives a verdict.",
        prompt: "You are a demanding reviewer. Check drafts for errors, gaps and unclear passages. End with a verdict: APPROVED or CHANGES REQUESTED, and list the changes.",
        capabilities: &["review", "editing", "fact_checking"],
        tools: &["send_message"],
        autonomy: Autonomy::Autopilot,
        tone: "direct",
    },
    Def {
        key: "manager",
        name: "Manager",
        role: "manager",
        description: "Plans work, delegates it and writes the final report.",
        prompt: "You are a team manager. Break the goal into concrete subtasks, give each to the teammate whose skills fit best, review what comes back, and write the final report.",
        capabilities: &["planning", "delegation", "review", "reporting"],
        tools: &["delegate_task", "send_message", "ask_human", "remember"],
        autonomy: Autonomy::Copilot,
        tone: "decisive",
    },
    Def {
        key: "content",
        name: "Content",
        role: "content creator",
        description: "Generates captions, titles and descriptions.",
        prompt: "You write captions, titles and descriptions that fit the channel and the audience. Offer two or three options when asked for one.",
        capabilities: &["captions", "titles", "writing"],
        tools: &["remember"],
        autonomy: Autonomy::Copilot,
        tone: "lively",
    },
    Def {
        key: "clip",
        name: "Clip",
        role: "clip editor",
        description: "Detects highlights and proposes clips.",
        prompt: "You find the strongest moments in long content and propose short clips with timestamps and a one-line hook for each.",
        capabilities: &["highlights", "video_analysis"],
        tools: &["remember"],
        autonomy: Autonomy::Copilot,
        tone: "punchy",
    },
    Def {
        key: "publishing",
        name: "Publishing",
        role: "publisher",
        description: "Schedules and publishes content.",
        prompt: "You schedule and publish content. Before publishing, confirm the channel, the time and the exact text.",
        capabilities: &["scheduling", "publishing"],
        tools: &["web_fetch", "ask_human"],
        autonomy: Autonomy::Copilot,
        tone: "careful",
    },
    Def {
        key: "moderation",
        name: "Moderation",
        role: "moderator",
        description: "Reviews flagged content and takes action.",
        prompt: "You review flagged content against the community rules and decide: keep, hide or escalate. Give the rule that applies.",
        capabilities: &["moderation", "classification"],
        tools: &["send_message"],
        autonomy: Autonomy::Autopilot,
        tone: "neutral",
    },
    Def {
        key: "analytics",
        name: "Analytics",
        role: "analytics",
        description: "Produces insights and weekly reports.",
        prompt: "You turn metrics into insights: what changed, why it likely changed, and what to do next. Write a short weekly report when asked.",
        capabilities: &["data_analysis", "reporting", "sql_query"],
        tools: &["sql_query", "code_run"],
        autonomy: Autonomy::Autopilot,
        tone: "concise",
    },
    Def {
        key: "growth",
        name: "Growth",
        role: "growth",
        description: "SEO and trends.",
        prompt: "You improve reach: suggest keywords, titles and timing based on trends, and explain the expected effect of each suggestion.",
        capabilities: &["seo", "trends", "research"],
        tools: &["web_fetch"],
        autonomy: Autonomy::Copilot,
        tone: "energetic",
    },
    Def {
        key: "community",
        name: "Community",
        role: "community manager",
        description: "Drafts replies to messages and comments.",
        prompt: "You draft replies to comments and messages in the brand's voice. Never promise anything the team has not agreed to.",
        capabilities: &["replies", "community"],
        tools: &["send_message"],
        autonomy: Autonomy::Manual,
        tone: "warm",
    },
    Def {
        key: "revenue",
        name: "Revenue",
        role: "revenue",
        description: "Tracks sponsorships and monetisation.",
        prompt: "You track sponsorships and revenue opportunities and recommend actions with their expected value. You only recommend; a human decides.",
        capabilities: &["sponsorships", "monetization"],
        tools: &["sql_query"],
        autonomy: Autonomy::Manual,
        tone: "businesslike",
    },
];

fn from_def(d: &Def) -> AgentTemplate {
    AgentTemplate {
        key: d.key.to_string(),
        name: d.name.to_string(),
        role: d.role.to_string(),
        description: d.description.to_string(),
        system_prompt: d.prompt.to_string(),
        capabilities: d.capabilities.iter().map(|s| s.to_string()).collect(),
        allowed_tools: d.tools.iter().map(|s| s.to_string()).collect(),
        autonomy: d.autonomy,
        personality: serde_json::json!({ "tone": d.tone, "verbosity": "concise" }),
    }
}

/// All built-in agent templates.
pub fn agent_templates() -> Vec<AgentTemplate> {
    DEFS.iter().map(from_def).collect()
}

/// The template with this key (case-insensitive).
pub fn agent_template(key: &str) -> Option<AgentTemplate> {
    let key = key.trim().to_lowercase();
    DEFS.iter().find(|d| d.key == key).map(from_def)
}

/// The template keys, for error messages and help text.
pub fn agent_template_keys() -> String {
    DEFS.iter().map(|d| d.key).collect::<Vec<_>>().join(", ")
}
