from referral.entrypoints.main import main

main()
