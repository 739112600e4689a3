from risk.entrypoints.main import main

main()
