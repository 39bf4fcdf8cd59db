from bots.cli.main import main

main()
