"""The pipeline: load -> validate -> schedule -> compose -> override -> emit -> write. I/O lives here."""
