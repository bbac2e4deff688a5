from irtrouter.cli import main

main()
