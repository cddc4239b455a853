/* The pod sandbox's process for the stack's real node: holds the pod's namespaces, reaps
 * orphans, exits on SIGINT or SIGTERM. Built with `gcc -static` by `carbon-e2e stack up`
 * into the localhost/carbon-e2e/pause image. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
    (void)sig;
    _exit(0);
}

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction s = {0};
    s.sa_handler = stop;
    sigaction(SIGINT, &s, NULL);
    sigaction(SIGTERM, &s, NULL);
    s.sa_handler = reap;
    s.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &s, NULL);
    if (getpid() != 1) {
        /* Outside a pid namespace of its own it still holds the others; say so. */
        static const char warn[] = "pause: not pid 1, orphans are reaped by someone else\n";
        (void)!write(2, warn, sizeof warn - 1);
    }
    for (;;) {
        pause();
    }
}
