"""`refnet backup …`: database and vault backups."""
