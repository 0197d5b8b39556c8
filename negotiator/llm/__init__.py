"""A language model under deterministic guardrails: it picks among the moves the
engine allows and writes the message (an LLM-assisted seat), and reads a
person's free text into a form they confirm (the portal). Every call is audited;
anything it answers outside its JSON Schema plays the deterministic move."""
