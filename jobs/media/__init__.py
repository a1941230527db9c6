"""Media jobs on the gpu queue (transcription, previews, transcodes, batches): not built yet."""
