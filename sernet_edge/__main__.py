from sernet_edge.cli import main

main()
