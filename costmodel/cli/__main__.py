from costmodel.cli.app import main

main()
