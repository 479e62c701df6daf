"""What the tests (tests/) and the benchmarks (bench/) both use, outside the product and its packages: the
product's processes started on loopback (the app, Rasa, a throwaway PostgreSQL) and the app in this process
(`servers`), real socket.io and HTTP clients (`clients`), and publishing helpers (`editing`). Neither tests
nor bench import each other."""
