-- Version 5: what each (provider, model) really does as an agent, measured
-- by the capability probe or learned from the provider's own answers
-- (Ollama's capabilities, a 400 "does not support tools"). The agent
-- runtime picks native tool calls or JSON steps from it. Keyed by the
-- provider config's name; a measurement of this machine, not exported.

CREATE TABLE model_profiles (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    -- 'native' | 'json_steps' | 'unusable'
    tools TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    -- 'probe' | 'capabilities' | 'provider'
    source TEXT NOT NULL,
    native_cases_passed INTEGER,
    native_cases_total INTEGER,
    json_schema INTEGER,
    streaming INTEGER,
    context_length INTEGER,
    prompt_tokens_per_sec REAL,
    generation_tokens_per_sec REAL,
    cases TEXT NOT NULL DEFAULT '[]',
    app_version TEXT NOT NULL,
    probed_at TEXT NOT NULL,
    PRIMARY KEY (provider, model)
);

-- Prompt tokens of a step the provider did not evaluate again (its cache
-- held the beginning the step shares with the one before).
ALTER TABLE run_steps ADD COLUMN tokens_cached INTEGER NOT NULL DEFAULT 0;
