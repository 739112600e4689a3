from repairs.entrypoints.main import main

main()
