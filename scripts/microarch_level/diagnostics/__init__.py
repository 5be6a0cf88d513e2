"""The user's questions: what this machine is (probe), why it gets the builds it gets (doctor), why a
solve failed (explain), which level each CPU gets (matrix), what a recipe adds (snippet)."""
