from snaproom_gateway.cli import main

main()
