from marac.entrypoints.main import main

main()
