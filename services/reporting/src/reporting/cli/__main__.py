from reporting.cli.app import main

main()
