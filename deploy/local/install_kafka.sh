#!/usr/bin/env bash
# Fetches Apache Kafka's jars from Maven Central into the cache (once) and leaves a
# ready-to-run classpath there. Idempotent: a second run with the jars present does nothing.
set -euo pipefail
KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
CACHE="${SIKS_CACHE:-$HOME/.cache/siks}"
dest="$CACHE/kafka-$KAFKA_VERSION"
if [ -f "$dest/.complete" ]; then exit 0; fi
command -v mvn >/dev/null || { echo "install_kafka: Maven (mvn) is required" >&2; exit 1; }
command -v java >/dev/null || { echo "install_kafka: Java 17 is required" >&2; exit 1; }
mkdir -p "$dest"
cat > "$dest/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.siks</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- the Kafka POM leaves the logging backend to the user -->
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
echo "install_kafka: downloading Kafka $KAFKA_VERSION jars (first run only)..."
mvn -q -B -f "$dest/pom.xml" dependency:copy-dependencies -DoutputDirectory="$dest/libs" -DincludeScope=runtime
touch "$dest/.complete"
echo "install_kafka: Kafka $KAFKA_VERSION ready in $dest"
