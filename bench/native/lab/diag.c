/* Not a benchmark pair: the C side of bench/guest/diag.ts's floor, ns per call of the cheapest
 * VFIO ioctl (VFIO_GET_API_VERSION on a fresh container fd), printed as an impl "diag" line. */
#include "common.h"

int main(void) {
  enum { ROUNDS = 11, PER = 1000 };
  int cont = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC); CHK(cont);
  for (int i = 0; i < PER; i++) ioctl(cont, VFIO_GET_API_VERSION);
  printf("%s {\"bench\":\"diag\",\"case\":\"C ioctl VFIO_GET_API_VERSION\",\"impl\":\"diag\",\"unit\":\"ns\",\"rounds\":[", MARK);
  for (int j = 0; j < ROUNDS; j++) {
    uint64_t t0 = now_ns();
    for (int i = 0; i < PER; i++) ioctl(cont, VFIO_GET_API_VERSION);
    printf("%s%.1f", j ? "," : "", (double)(now_ns() - t0) / PER);
  }
  printf("]}\n");
  close(cont);
  return 0;
}
