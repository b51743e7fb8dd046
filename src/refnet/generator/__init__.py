"""The Obsidian vault: one Markdown note per collected paper, an index, and per-seed maps.

`service.generate_vault` is the entry point. Notes live at `papers/<citekey>.md`; the citekey is
assigned once (`citekeys`), the text comes from `render` and `canvas`, and `vault` writes files
atomically, merging what the user added below `%% refnet:end %%`.
"""
