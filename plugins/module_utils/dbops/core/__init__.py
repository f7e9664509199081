"""What every part of the engine shares: errors, secrets redaction, timestamps."""
