from ocppd.cli import main

main()
