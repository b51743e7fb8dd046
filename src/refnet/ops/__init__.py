"""Operations: readiness and health checks, backups, restores and their retention."""
