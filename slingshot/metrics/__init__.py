"""Task metrics: the SQuAD v1.1 metric and the sandboxed Julia scorer. They import only
slingshot.layout and slingshot.io, so every layer above can score."""
