"""The domain: enrollment and its sources, access, goals, answers, directory, privacy,
reporting and the digest, as functions of a session and plain values. No Slack here."""
