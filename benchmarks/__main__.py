"""`python -m benchmarks`: run every suite, print the table, write the JSON."""
from benchmarks.run import main

main()
