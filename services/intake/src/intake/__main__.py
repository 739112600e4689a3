from intake.entrypoints.main import main

main()
