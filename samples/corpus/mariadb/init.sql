-- Run at every start (--init-file): a TCP user for the workloads (127.0.0.1 only).
CREATE USER IF NOT EXISTS 'bench'@'%' IDENTIFIED BY 'bench';
GRANT ALL PRIVILEGES ON *.* TO 'bench'@'%';
