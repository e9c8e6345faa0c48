"""Running checks: finding files (discover.py), the cache (cache.py), worker servers with limits
(worker.py), a file's claims through the engine within budgets (claims.py), and many files at
once, the cache first (files.py). Knows claims, not SymPy: the modules that need the engine
import it when there is a claim to check, so a run served from the cache never loads SymPy."""
