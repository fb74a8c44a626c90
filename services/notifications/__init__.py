"""The notifications service: tells Working Group and COPIL partners what changed, by e-mail."""
